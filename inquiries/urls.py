from django.urls import path

from inquiries.views import pages, public_form

urlpatterns = [
    path("f/<slug:tenant_slug>/", public_form.inquiry_form, name="public-form"),
    path("inquiries/", pages.inquiry_list_page, name="inquiry-list"),
    path("inquiries/<int:pk>/", pages.inquiry_detail_page, name="inquiry-detail"),
    path(
        "inquiries/<int:pk>/appointment/",
        pages.book_appointment_page,
        name="inquiry-book-appointment",
    ),
    path("definitions/", pages.definition_list_page, name="definition-list"),
    path("definitions/new/", pages.definition_new_page, name="definition-new"),
    path("definitions/suggest/", pages.definition_suggest_page, name="definition-suggest"),
    path("definitions/<int:pk>/", pages.definition_detail_page, name="definition-detail"),
    path("definitions/<int:pk>/copy/", pages.definition_copy_page, name="definition-copy"),
    path("definitions/<int:pk>/sign/", pages.definition_sign_page, name="definition-sign"),
    path(
        "definitions/<int:pk>/activate/",
        pages.definition_activate_page,
        name="definition-activate",
    ),
    path("definitions/<int:pk>/what-if/", pages.definition_what_if_page, name="definition-what-if"),
    path(
        "definitions/<int:pk>/rescore-progress/",
        pages.rescore_progress_page,
        name="definition-rescore-progress",
    ),
]
