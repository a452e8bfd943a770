from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from platform_core.api.serializers import StrictSerializer, UserSummarySerializer
from workspaces.api.schema import BELOW_ROOT_PATH_SCHEMA, PATH_SCHEMA, WORKSPACE_NAME_SCHEMA
from workspaces.files import is_control_character
from workspaces.models import Membership, Workspace


# The files layer checks paths itself, with errors that name the problem; these
# fields only describe what it accepts in the OpenAPI schema.
@extend_schema_field(PATH_SCHEMA)
class WorkspacePathField(serializers.CharField):
    """A workspace-relative path, the root ('') included."""


@extend_schema_field(BELOW_ROOT_PATH_SCHEMA)
class WorkspaceEntryPathField(serializers.CharField):
    """A workspace-relative path to a file or folder (not the root)."""


@extend_schema_field(WORKSPACE_NAME_SCHEMA)
class WorkspaceNameField(serializers.CharField):
    pass


class WorkspaceSerializer(serializers.ModelSerializer):
    my_role = serializers.SerializerMethodField()

    class Meta:
        model = Workspace
        fields = [
            "id",
            "name",
            "status",
            "status_message",
            "progress",
            "runtime",
            "my_role",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_my_role(self, workspace) -> str | None:
        roles = self.context.get("roles_by_workspace")
        if roles is not None:
            return roles.get(workspace.pk)
        user = self.context["request"].user
        membership = workspace.memberships.filter(user=user).first()
        return membership.role if membership else None


class WorkspaceNameSerializer(StrictSerializer):
    name = WorkspaceNameField(max_length=100, trim_whitespace=True)

    def validate_name(self, value):
        # The same rule as file names (C0, DEL and C1): names are shown in
        # titles, terminals and logs, where a control character does harm.
        if any(is_control_character(character) for character in value):
            raise serializers.ValidationError("The name must not contain control characters.")
        return value


class MembershipSerializer(serializers.ModelSerializer):
    user = UserSummarySerializer(read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "user", "role", "created_at"]
        read_only_fields = fields


class MemberCreateSerializer(StrictSerializer):
    username = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(choices=Membership.Role.choices)

    def validate_username(self, value):
        user = get_user_model().objects.filter(username=value).first()
        if user is None:
            raise serializers.ValidationError(f"There is no user named {value!r}.")
        return user


class MemberRoleSerializer(StrictSerializer):
    role = serializers.ChoiceField(choices=Membership.Role.choices)


class PathQuerySerializer(StrictSerializer):
    path = serializers.CharField(allow_blank=True, trim_whitespace=False, max_length=4096, default="")


class FileWriteSerializer(StrictSerializer):
    content = serializers.CharField(allow_blank=True, trim_whitespace=False)
    etag = serializers.CharField(allow_null=True, max_length=128, help_text="null creates the file.")


class FileCreateSerializer(StrictSerializer):
    path = WorkspaceEntryPathField(trim_whitespace=False, max_length=4096)
    type = serializers.ChoiceField(choices=["file", "directory"])


class FileMoveSerializer(StrictSerializer):
    source = WorkspaceEntryPathField(trim_whitespace=False, max_length=4096)
    destination = WorkspaceEntryPathField(trim_whitespace=False, max_length=4096)


class FileUploadSerializer(StrictSerializer):
    file = serializers.FileField(allow_empty_file=True)  # an empty __init__.py is a fine upload
    directory = WorkspacePathField(allow_blank=True, trim_whitespace=False, max_length=4096, default="")
    overwrite = serializers.BooleanField(default=False)


# Answers of the files API (documentation only: the files layer builds them).
class FileEntrySerializer(serializers.Serializer):
    name = serializers.CharField()
    path = serializers.CharField()
    type = serializers.ChoiceField(
        choices=["file", "directory", "symlink"], help_text="symlink: a link leading outside the workspace."
    )
    size = serializers.IntegerField(allow_null=True, help_text="Bytes, for files.")
    modified = serializers.DateTimeField()
    symlink = serializers.BooleanField()


class DirectoryListingSerializer(serializers.Serializer):
    path = serializers.CharField()
    entries = FileEntrySerializer(many=True)


class FileSavedSerializer(serializers.Serializer):
    path = serializers.CharField()
    etag = serializers.CharField()
    size = serializers.IntegerField()
    modified = serializers.DateTimeField()


class FileContentSerializer(FileSavedSerializer):
    content = serializers.CharField()
