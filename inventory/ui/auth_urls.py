"""Sign in and out of the web UI (Django auth), mounted at ``/accounts/``."""

from django.contrib.auth import views as auth_views
from django.urls import path

from inventory.ui.access import secure_headers


def _secured(view):
    def wrapper(request, *args, **kwargs):
        return secure_headers(view(request, *args, **kwargs))

    return wrapper


urlpatterns = [
    path(
        "login/",
        _secured(auth_views.LoginView.as_view(template_name="inventory/login.html", redirect_authenticated_user=True)),
        name="login",
    ),
    path("logout/", _secured(auth_views.LogoutView.as_view()), name="logout"),
]
