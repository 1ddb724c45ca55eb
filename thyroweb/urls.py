from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", include("diagnostics.api.urls")),
    path("", include("diagnostics.urls")),
]

# Unknown URLs under /api/ answer in the API's JSON error shape; pages keep Django's 404 page.
handler404 = "diagnostics.api.errors.not_found"
# An unreachable database is a 503 (JSON for the API, a page otherwise); other errors a 500.
handler500 = "diagnostics.api.errors.server_error"
