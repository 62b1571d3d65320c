from django.urls import path

from . import views

urlpatterns = [
    path("risk/assessments", views.AssessmentListView.as_view(), name="risk-assessments"),
    path("risk/assessments/<str:assessment_id>", views.AssessmentDetailView.as_view(), name="risk-assessment-detail"),
    path("risk/block_list", views.BlockListView.as_view(), name="risk-block-list"),
    path("risk/block_list/<str:entry_id>", views.BlockListEntryView.as_view(), name="risk-block-list-entry"),
]
