import django_filters
from django.http import JsonResponse
from drf_spectacular.utils import extend_schema
from rest_framework import generics, mixins, permissions, status, viewsets
from rest_framework.response import Response

from platform_core import services
from platform_core.api.filters import InstantFilter, UserIdFilter
from platform_core.api.serializers import (
    ApiTokenCreatedSerializer,
    ApiTokenCreateSerializer,
    ApiTokenSerializer,
    AuditLogSerializer,
    JobSerializer,
    MeSerializer,
)
from platform_core.models import ApiToken, AuditLog, Job


def not_found(request, *args, **kwargs):
    """Paths under /api/v1/ that match no endpoint: the API's error shape, not an HTML page."""
    body = {"error": {"code": "not_found", "message": "No such endpoint: see /api/docs/.", "details": {}}}
    return JsonResponse(body, status=404)


class MeView(generics.RetrieveAPIView):
    """The signed-in user."""

    serializer_class = MeSerializer

    def get_object(self):
        return self.request.user


class ApiTokenFilter(django_filters.FilterSet):
    revoked_at = InstantFilter()

    class Meta:
        model = ApiToken
        fields = ["revoked_at"]


class ApiTokenViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    """Personal API tokens of the signed-in user. DELETE revokes (the row is kept)."""

    serializer_class = ApiTokenSerializer
    filterset_class = ApiTokenFilter
    ordering_fields = ["created_at", "expires_at", "name"]

    queryset = ApiToken.objects.none()  # for the schema generator; requests use get_queryset

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ApiToken.objects.none()
        return ApiToken.objects.filter(user=self.request.user)

    @extend_schema(request=ApiTokenCreateSerializer, responses={201: ApiTokenCreatedSerializer})
    def create(self, request):
        serializer = ApiTokenCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token, plaintext = services.do_create_api_token(request.user, **serializer.validated_data)
        body = ApiTokenSerializer(token).data | {"token": plaintext}
        return Response(body, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance):
        services.do_revoke_api_token(instance, acting_user=self.request.user)


class CanReadAuditLog(permissions.BasePermission):
    message = "Only administrators and auditors can read the audit log."

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated and request.user.can_read_audit_log)


class AuditLogFilter(django_filters.FilterSet):
    actor = UserIdFilter(field_name="actor")
    since = InstantFilter(field_name="created_at", lookup_expr="gte")
    until = InstantFilter(field_name="created_at", lookup_expr="lt")
    action_prefix = django_filters.CharFilter(field_name="action", lookup_expr="startswith")

    class Meta:
        model = AuditLog
        fields = ["action", "actor", "actor_username", "target_type", "target_id", "workspace_id", "request_id"]


class AuditLogViewSet(viewsets.ReadOnlyModelViewSet):
    """The audit log, for administrators and auditors. Read-only by design."""

    queryset = AuditLog.objects.all()
    serializer_class = AuditLogSerializer
    permission_classes = [CanReadAuditLog]
    filterset_class = AuditLogFilter
    search_fields = ["action", "actor_username", "target_label", "workspace_name", "request_id"]
    ordering_fields = ["created_at", "action"]


class JobViewSet(viewsets.ReadOnlyModelViewSet):
    """Background jobs the user started (administrators see all)."""

    serializer_class = JobSerializer
    filterset_fields = ["kind", "status", "target_type", "target_id"]

    queryset = Job.objects.none()  # for the schema generator; requests use get_queryset

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Job.objects.none()
        if self.request.user.is_site_admin:
            return Job.objects.all()
        return Job.objects.filter(created_by=self.request.user)
