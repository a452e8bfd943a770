"""Query-string filters that answer every well-formed value instead of failing.

Schemathesis found both gaps: a user id beyond 64 bits overflowed the database
driver, and a valid ISO 8601 instant could fail twice, in Python (year 1 with a
positive offset is before year 1 in UTC) and in Postgres (offsets only to ±15:59).
"""

from datetime import MAXYEAR, UTC

import django_filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field


@extend_schema_field(OpenApiTypes.INT64)
class UserIdFilter(django_filters.NumberFilter):
    """Rows of the user with this id; none for an id that names no one.

    Unlike a ModelChoiceFilter it does not answer 400 for an unknown user, and
    an id beyond 64 bits matches nothing instead of overflowing the database
    driver (Django guards integer columns, not foreign keys).
    """

    def filter(self, queryset, value):
        if value is not None and not -(2**63) <= value < 2**63:
            return queryset.none()
        return super().filter(queryset, value)


class InstantFilter(django_filters.IsoDateTimeFilter):
    """An ISO 8601 date-time, compared in UTC (which every database takes).

    One outside the years Python holds once in UTC keeps every row or none,
    as its place on the time line says.
    """

    def filter(self, queryset, value):
        if value is None:
            return super().filter(queryset, value)
        try:
            value = value.astimezone(UTC)
        except OverflowError:
            after_all_time = value.year == MAXYEAR
            if self.lookup_expr in ("gt", "gte"):
                return queryset.none() if after_all_time else queryset
            if self.lookup_expr in ("lt", "lte"):
                return queryset if after_all_time else queryset.none()
            return queryset.none()
        return super().filter(queryset, value)
