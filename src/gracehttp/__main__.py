"""
C{python -m gracehttp ARGS}: the C{gracehttp} command, which is C{twist
gracehttp ARGS} (see L{gracehttp.tap.main}).
"""

from gracehttp.tap import main

if __name__ == "__main__":
    main()
