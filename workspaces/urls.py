from django.urls import path

from workspaces import views

app_name = "workspaces"
urlpatterns = [
    path("", views.workspace_list, name="list"),
    path("workspaces/<int:workspace_pk>/", views.workspace_ide, name="ide"),
    path("workspaces/<int:workspace_pk>/members/", views.workspace_members, name="members"),
]
