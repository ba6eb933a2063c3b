"""Sign in and out of the web UI (Django auth), mounted at ``/accounts/``.

Sign-ins are throttled (``api.signin_throttle``): a refused one answers 429 with ``Retry-After``
and a message saying when to try again."""

from django.contrib.auth import views as auth_views
from django.urls import path
from django.utils import timezone

from api.signin_auth import lockout_of
from inventory.ui.access import secure_headers


def _secured(view):
    def wrapper(request, *args, **kwargs):
        return secure_headers(view(request, *args, **kwargs))

    return wrapper


class SignInView(auth_views.LoginView):
    template_name = "inventory/login.html"
    redirect_authenticated_user = True

    def form_invalid(self, form):
        lockout = lockout_of(self.request)
        if lockout is None:
            return super().form_invalid(form)
        now = timezone.now()
        context = self.get_context_data(form=form, lockout_message=lockout.message(now))
        response = self.render_to_response(context, status=429)
        response["Retry-After"] = str(lockout.retry_after(now))
        return response


urlpatterns = [
    path("login/", _secured(SignInView.as_view()), name="login"),
    path("logout/", _secured(auth_views.LogoutView.as_view()), name="logout"),
]
