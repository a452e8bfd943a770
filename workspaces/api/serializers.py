from django.contrib.auth import get_user_model
from rest_framework import serializers

from platform_core.api.serializers import StrictSerializer, UserSummarySerializer
from workspaces.files import is_control_character
from workspaces.models import Membership, Workspace


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
    name = serializers.CharField(max_length=100, trim_whitespace=True)

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
    etag = serializers.CharField(allow_null=True, max_length=128)


class FileCreateSerializer(StrictSerializer):
    path = serializers.CharField(trim_whitespace=False, max_length=4096)
    type = serializers.ChoiceField(choices=["file", "directory"])


class FileMoveSerializer(StrictSerializer):
    source = serializers.CharField(trim_whitespace=False, max_length=4096)
    destination = serializers.CharField(trim_whitespace=False, max_length=4096)


class FileUploadSerializer(StrictSerializer):
    file = serializers.FileField()
    directory = serializers.CharField(allow_blank=True, trim_whitespace=False, max_length=4096, default="")
    overwrite = serializers.BooleanField(default=False)
