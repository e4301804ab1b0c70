from django.urls import path

from my_project.apps.index import views

urlpatterns = [
    path("signup", views.signup),
    path("tasks/<str:task_id>", views.task_status),
    path("reports", views.enqueue_report),
    path("backend", views.backend),
    path("reports/<str:result_id>", views.report_status),
]
