from django.urls import path

from leadflow.outbox import views

urlpatterns = [
    path("outbox/failed/", views.failed_messages, name="outbox-failed"),
    path("outbox/<int:pk>/retry/", views.retry, name="outbox-retry"),
]
