"""Page-number pagination with ``count`` and a bounded page size.

A ``page_size`` that is not a whole number from 1 to :data:`MAX_PAGE_SIZE`
(empty included) is a 400 naming it (it used to be ignored, or cut to the
maximum); a page past the end, or a ``page`` that is not a page number (empty
included), is DRF's 404.
"""

from rest_framework import exceptions, pagination

MAX_PAGE_SIZE = 200


class PageNumberPagination(pagination.PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        return page_size_from(raw, maximum=self.max_page_size)

    def get_page_number(self, request, paginator):
        raw = request.query_params.get(self.page_query_param)
        if raw == "":
            # Not a page number: the same 404 as ?page=abc (DRF would read it as page 1).
            raise exceptions.NotFound("Invalid page.")
        return super().get_page_number(request, paginator)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["schema"]["minimum"] = 1
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1, maximum=self.max_page_size)
                parameter["description"] = f"1–{self.max_page_size}, default {self.page_size}."
        return parameters


def page_size_from(raw: str, *, maximum: int = MAX_PAGE_SIZE) -> int:
    """The page size asked for; a ValidationError on ``page_size`` unless it is 1–maximum."""
    try:
        size = int(raw)
    except (TypeError, ValueError):
        raise exceptions.ValidationError({"page_size": ["Give a whole number."]}) from None
    if not 1 <= size <= maximum:
        raise exceptions.ValidationError({"page_size": [f"Give 1–{maximum}."]})
    return size
