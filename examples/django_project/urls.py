"""
The URLs of the example Django project.
"""

from django.urls import path

from examples.django_project import views

urlpatterns = [
    path("", views.index),
    path("items/<int:number>", views.item, name="item"),
    path("report", views.report),
    path("async-report", views.async_report),
]
