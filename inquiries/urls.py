from django.urls import path

from inquiries.views import (
    campaigns,
    custom_fields,
    definitions,
    desk,
    inbox,
    merging,
    public_form,
    rule_builder,
)
from inquiries.views import import_values as import_value_views
from inquiries.views import imports as import_views
from inquiries.views import inquiries as inquiry_views

urlpatterns = [
    path("f/<slug:tenant_slug>/", public_form.inquiry_form, name="public-form"),
    path("inquiries/", inbox.inbox_page, name="inquiry-list"),
    path("inquiries/bulk/", inbox.inbox_bulk_page, name="inquiry-bulk"),
    path("inquiries/bulk-jobs/<int:pk>/", inbox.bulk_job_page, name="inquiry-bulk-job"),
    path(
        "inquiries/bulk-jobs/<int:pk>/cancel/",
        inbox.bulk_job_cancel_page,
        name="inquiry-bulk-job-cancel",
    ),
    path("inquiries/views/", inbox.saved_view_save_page, name="inquiry-saved-view-save"),
    path(
        "inquiries/views/<int:pk>/delete/",
        inbox.saved_view_delete_page,
        name="inquiry-saved-view-delete",
    ),
    path(
        "inquiries/disqualify-reasons/",
        inbox.disqualify_reasons_page,
        name="inquiry-disqualify-reasons",
    ),
    path(
        "inquiries/disqualify-reasons/<int:pk>/",
        inbox.disqualify_reason_change_page,
        name="inquiry-disqualify-reason-change",
    ),
    path(
        "inquiries/custom-fields/", custom_fields.custom_field_list_page, name="custom-field-list"
    ),
    path(
        "inquiries/custom-fields/<int:pk>/public-form/",
        custom_fields.custom_field_public_form_page,
        name="custom-field-public-form",
    ),
    path("inquiries/campaigns/", campaigns.campaign_list_page, name="campaign-list"),
    path("inquiries/campaigns/new/", campaigns.campaign_new_page, name="campaign-new"),
    path("inquiries/campaigns/<int:pk>/", campaigns.campaign_edit_page, name="campaign-edit"),
    path(
        "inquiries/campaigns/<int:pk>/archive/",
        campaigns.campaign_archive_page,
        name="campaign-archive",
    ),
    path("inquiries/merge/", merging.merge_page, name="inquiry-merge"),
    path("inquiries/duplicates/", merging.duplicates_page, name="inquiry-duplicates"),
    path("inquiries/imports/", import_views.import_list_page, name="import-list"),
    path("inquiries/imports/new/", import_views.import_new_page, name="import-new"),
    path("inquiries/imports/<int:pk>/", import_views.import_detail_page, name="import-detail"),
    path(
        "inquiries/imports/<int:pk>/mapping/",
        import_views.import_mapping_page,
        name="import-mapping",
    ),
    path(
        "inquiries/imports/<int:pk>/dry-run/",
        import_views.import_dry_run_page,
        name="import-dry-run",
    ),
    path(
        "inquiries/imports/<int:pk>/campaigns/",
        import_views.import_create_campaigns_page,
        name="import-create-campaigns",
    ),
    path(
        "inquiries/imports/<int:pk>/dry-run/progress/",
        import_views.import_dry_run_progress_page,
        name="import-dry-run-progress",
    ),
    path("inquiries/imports/<int:pk>/start/", import_views.import_start_page, name="import-start"),
    path(
        "inquiries/imports/<int:pk>/values/",
        import_value_views.import_values_page,
        name="import-values",
    ),
    path(
        "inquiries/imports/<int:pk>/cancel/", import_views.import_cancel_page, name="import-cancel"
    ),
    path(
        "inquiries/imports/<int:pk>/progress/",
        import_views.import_progress_page,
        name="import-progress",
    ),
    path(
        "inquiries/imports/<int:pk>/report.csv",
        import_views.import_report_csv,
        name="import-report-csv",
    ),
    path("inquiries/<int:pk>/", inquiry_views.inquiry_detail_page, name="inquiry-detail"),
    path("definitions/", definitions.definition_list_page, name="definition-list"),
    path("definitions/new/", definitions.definition_new_page, name="definition-new"),
    path("definitions/suggest/", definitions.definition_suggest_page, name="definition-suggest"),
    path(
        "definitions/suggestions/<int:pk>/",
        definitions.definition_suggestion_page,
        name="definition-suggestion",
    ),
    path("definitions/<int:pk>/", definitions.definition_detail_page, name="definition-detail"),
    path("definitions/<int:pk>/copy/", definitions.definition_copy_page, name="definition-copy"),
    path("definitions/<int:pk>/sign/", definitions.definition_sign_page, name="definition-sign"),
    path(
        "definitions/<int:pk>/activate/",
        definitions.definition_activate_page,
        name="definition-activate",
    ),
    path(
        "definitions/<int:pk>/what-if/",
        definitions.definition_what_if_page,
        name="definition-what-if",
    ),
    path(
        "definitions/<int:pk>/rescore-progress/",
        definitions.rescore_progress_page,
        name="definition-rescore-progress",
    ),
]

# The qualifier's desk (issue 23): working one inquiry from its page, and the queue.
urlpatterns += [
    path("queue/", desk.queue_page, name="inquiry-queue"),
    path("inquiries/<int:pk>/notes/", desk.inquiry_note_page, name="inquiry-note"),
    path("inquiries/<int:pk>/assign/", desk.inquiry_assign_page, name="inquiry-assign"),
    path("inquiries/<int:pk>/disqualify/", desk.inquiry_disqualify_page, name="inquiry-disqualify"),
    path("inquiries/<int:pk>/requalify/", desk.inquiry_requalify_page, name="inquiry-requalify"),
    path("inquiries/<int:pk>/tasks/", desk.inquiry_task_page, name="inquiry-task"),
    path("inquiries/<int:pk>/profile/", desk.inquiry_profile_page, name="inquiry-profile"),
    path("tasks/<int:pk>/complete/", desk.task_complete_page, name="task-complete"),
    path("definitions/<int:pk>/rules/", rule_builder.rule_builder_page, name="definition-rules"),
    path(
        "inquiries/custom-fields/<int:pk>/choices/",
        custom_fields.custom_field_choices_page,
        name="custom-field-choices",
    ),
    path(
        "inquiries/custom-fields/<int:pk>/rename/",
        custom_fields.custom_field_rename_page,
        name="custom-field-rename",
    ),
    path(
        "inquiries/custom-fields/<int:pk>/required/",
        custom_fields.custom_field_required_page,
        name="custom-field-required",
    ),
    path(
        "inquiries/custom-fields/<int:pk>/delete/",
        custom_fields.custom_field_delete_page,
        name="custom-field-delete",
    ),
]
