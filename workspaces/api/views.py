from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from platform_core.api.errors import ApiError
from platform_core.api.schema import error_responses
from workspaces import services
from workspaces.api.base import WorkspaceScopedMixin, get_workspace_for
from workspaces.api.serializers import (
    MemberCreateSerializer,
    MemberRoleSerializer,
    MembershipSerializer,
    WorkspaceNameSerializer,
    WorkspaceSerializer,
)
from workspaces.models import Membership, Workspace
from workspaces.roles import DELETE, MANAGE_MEMBERS, RENAME


class WorkspaceViewSet(viewsets.ModelViewSet):
    """Workspaces the user is a member of. Creating one starts provisioning in the background."""

    serializer_class = WorkspaceSerializer
    lookup_value_regex = r"\d+"
    filterset_fields = ["status"]
    search_fields = ["name"]
    ordering_fields = ["name", "created_at", "updated_at"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    queryset = Workspace.objects.none()  # for the schema generator; requests use get_queryset

    def get_queryset(self):
        return Workspace.objects.restrict(self.request.user)

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if self.action == "list":
            # One query for every row's role instead of one per workspace.
            context["roles_by_workspace"] = dict(
                Membership.objects.filter(user=self.request.user).values_list("workspace_id", "role")
            )
        return context

    def get_object(self):
        permission = {"partial_update": RENAME, "destroy": DELETE, "reprovision": RENAME}.get(
            self.action, "view_workspace"
        )
        return get_workspace_for(self.request.user, self.kwargs["pk"], permission)

    @extend_schema(request=WorkspaceNameSerializer, responses={201: WorkspaceSerializer})
    def create(self, request):
        serializer = WorkspaceNameSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        workspace = services.do_create_workspace(serializer.validated_data["name"], acting_user=request.user)
        return Response(self.get_serializer(workspace).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=WorkspaceNameSerializer, responses={200: WorkspaceSerializer})
    def partial_update(self, request, pk=None):
        workspace = self.get_object()
        serializer = WorkspaceNameSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        workspace = services.do_rename_workspace(workspace, serializer.validated_data["name"], acting_user=request.user)
        return Response(self.get_serializer(workspace).data)

    @extend_schema(
        parameters=[OpenApiParameter("confirm", str, required=True, description="The workspace's exact name.")],
        responses={204: None},
    )
    def destroy(self, request, pk=None):
        workspace = self.get_object()
        if request.query_params.get("confirm") != workspace.name:
            raise ApiError(
                400,
                "confirmation_required",
                "Deleting a workspace needs confirmation: pass ?confirm=<the workspace's exact name>.",
            )
        services.do_delete_workspace(workspace, acting_user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={202: WorkspaceSerializer, **error_responses(409)})
    @action(detail=True, methods=["post"])
    def reprovision(self, request, pk=None):
        try:
            workspace = services.do_reprovision_workspace(self.get_object(), acting_user=request.user)
        except services.ProvisioningInProgress as error:
            raise ApiError(409, "provisioning_in_progress", str(error)) from error
        return Response(self.get_serializer(workspace).data, status=status.HTTP_202_ACCEPTED)


class MembershipViewSet(
    WorkspaceScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Members of a workspace. Every member can list them; owners change them."""

    serializer_class = MembershipSerializer
    filterset_fields = ["role"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    queryset = Membership.objects.none()  # for the schema generator; requests use get_queryset

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Membership.objects.none()
        return Membership.objects.filter(workspace=self.get_workspace()).select_related("user")

    def _managed_membership(self, pk) -> Membership:
        workspace = self.get_workspace(MANAGE_MEMBERS)
        membership = Membership.objects.filter(workspace=workspace, pk=pk).first()
        if membership is None:
            raise ApiError(404, "not_found", "No such member in this workspace.")
        return membership

    @staticmethod
    def _membership_error(error: services.MembershipError) -> ApiError:
        # already_member, inactive_user, last_owner: the request is fine, the
        # workspace's current members are what refuse it.
        return ApiError(409, error.code, str(error))

    @extend_schema(request=MemberCreateSerializer, responses={201: MembershipSerializer, **error_responses(409)})
    def create(self, request, workspace_pk=None):
        workspace = self.get_workspace(MANAGE_MEMBERS)
        serializer = MemberCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            membership = services.do_add_member(
                workspace,
                serializer.validated_data["username"],
                serializer.validated_data["role"],
                acting_user=request.user,
            )
        except services.MembershipError as error:
            raise self._membership_error(error) from error
        return Response(MembershipSerializer(membership).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=MemberRoleSerializer, responses={200: MembershipSerializer, **error_responses(409)})
    def partial_update(self, request, workspace_pk=None, pk=None):
        membership = self._managed_membership(pk)
        serializer = MemberRoleSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            membership = services.do_change_member_role(
                membership, serializer.validated_data["role"], acting_user=request.user
            )
        except services.MembershipError as error:
            raise self._membership_error(error) from error
        return Response(MembershipSerializer(membership).data)

    @extend_schema(responses={204: None, **error_responses(409)})
    def destroy(self, request, workspace_pk=None, pk=None):
        membership = self._managed_membership(pk)
        try:
            services.do_remove_member(membership, acting_user=request.user)
        except services.MembershipError as error:
            raise self._membership_error(error) from error
        return Response(status=status.HTTP_204_NO_CONTENT)
