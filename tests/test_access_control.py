"""Every URL of ThyroWeb, walked: anonymous and wrong-role users are refused, the right role gets in.

The walk reads ``thyroweb.urls`` at collection time, so a new page or
endpoint is checked the moment it is routed. A route whose view declares no
``required_role`` (``diagnostics.access.role_required`` for pages, a
``required_role`` attribute for DRF views) fails here, unless it is on the
short allow-list below.
"""

import re
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.contrib import admin
from django.test import RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from diagnostics.access import ADMIN, CLINICIAN, DATA_MANAGER, PUBLIC, ROLES, HasRole, role_required
from diagnostics.models import AuditEvent, LabPanel, ModelVersion, Patient, Prediction, ScoringJob, TrainingRun

# Open to anyone by design: logging in and out, switching language (static files never reach the URLconf).
ALLOW_LIST = {"login", "logout", "set_language", "admin:login", "admin:logout"}

# The role just below each role: it must be refused.
WRONG_ROLE = {CLINICIAN: "no_role_user", DATA_MANAGER: "clinician", ADMIN: "data_manager"}
RIGHT_ROLE = {CLINICIAN: "clinician", DATA_MANAGER: "data_manager", ADMIN: "admin_user"}


@dataclass(frozen=True)
class Route:
    pattern: str
    name: str
    callback: object
    namespace: str

    @property
    def id(self) -> str:
        return self.name or self.pattern

    @property
    def is_admin_site(self) -> bool:
        return self.namespace == "admin"


def walk(patterns, prefix: str = "", namespace: str = ""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from walk(entry.url_patterns, prefix + str(entry.pattern), entry.namespace or namespace)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}:{entry.name}" if namespace and entry.name else (entry.name or "")
            yield Route(prefix + str(entry.pattern), name, entry.callback, namespace)


ROUTES = list(walk(get_resolver().url_patterns))
# Health checks declare diagnostics.access.PUBLIC: open to anyone, answering only each check's result.
PUBLIC_ROUTES = [r for r in ROUTES if getattr(r.callback, "required_role", None) == PUBLIC]
APP_ROUTES = [r for r in ROUTES if not r.is_admin_site and r.name not in ALLOW_LIST and r not in PUBLIC_ROUTES]
ADMIN_ROUTES = [r for r in ROUTES if r.is_admin_site and r.name not in ALLOW_LIST]


def declared_role(route: Route, method: str = "GET") -> str | None:
    """The role a route's view declares for a method (DRF views may vary it by action)."""
    callback = route.callback
    view_class = getattr(callback, "cls", None)
    if view_class is None:
        view_class = getattr(callback, "view_class", None)
        return getattr(callback, "required_role", None) or getattr(view_class, "required_role", None)
    view = view_class(**getattr(callback, "initkwargs", {}))
    actions = getattr(callback, "actions", None)
    if actions:
        view.action_map = actions
        view.action = actions.get(method.lower())
    view.request = RequestFactory().generic(method, "/")
    return getattr(view, "required_role", None)


def drf_permissions(route: Route) -> list:
    view_class = getattr(route.callback, "cls", None)
    if view_class is None:
        return []
    return view_class(**getattr(route.callback, "initkwargs", {})).get_permissions()


# --- a small world of objects so detail routes find something -------------------------------


@pytest.fixture
def world(clinician):
    patient = Patient.objects.create(record_number="MRN-ACL-1", sex="F")
    panel = LabPanel.objects.create(patient=patient, age=50, TSH=2.0, T3=1.8, TT4=100, T4U=1.0, FTI=100)
    version = ModelVersion.objects.create(version="acl-test-1", artefact_path="models/acl-test-1")
    prediction = Prediction.objects.create(
        panel=panel,
        model_version=version,
        predicted_class="normal",
        p_normal=0.9,
        p_hyperthyroid=0.05,
        p_hypothyroid=0.05,
    )
    run = TrainingRun.objects.create()
    job = ScoringJob.objects.create()
    event = AuditEvent.objects.create(action="panel.create", object_type="labpanel", object_id=str(panel.pk))
    return {
        "patient": patient,
        "panel": panel,
        "labpanel": panel,
        "prediction": prediction,
        "model": version,
        "modelversion": version,
        "version": version,
        "training": run,
        "trainingrun": run,
        "run": run,
        "scoring": job,
        "scoringjob": job,
        "job": job,
        "audit": event,
        "auditevent": event,
        "event": event,
    }


_CONVERTER = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>|\(\?P<(?P<rname>[^>]+)>[^)]*\)")


def _word(text: str) -> str:
    word = re.sub(r"[^a-z]", "", text.lower())
    for suffix in ("pk", "id"):
        word = word.removesuffix(suffix)
    return word.removesuffix("s")


def route_kwargs(route: Route, world: dict) -> dict:
    """Fill each URL parameter with a real object's key, guessed from its name or the segment before it."""
    kwargs = {}
    for match in _CONVERTER.finditer(route.pattern):
        name = match.group("name") or match.group("rname")
        converter = match.group("converter") or "str"
        before = route.pattern[: match.start()].rstrip("/").split("/")[-1]
        obj = world.get(_word(name)) or world.get(_word(before)) or world.get(_word(route.name.split(":")[-1]))
        if obj is None:
            kwargs[name] = 1 if converter == "int" else "1"
        elif converter == "int" or name in ("pk", "id") or name.endswith(("_pk", "_id")):
            kwargs[name] = obj.pk if converter == "int" else str(obj.pk)
        else:
            kwargs[name] = getattr(obj, "version", None) or str(obj.pk)
    return kwargs


def admin_kwargs(route: Route, world: dict) -> dict:
    if route.name == "admin:app_list":
        return {"app_label": "diagnostics"}
    if route.name == "admin:view_on_site":
        from django.contrib.contenttypes.models import ContentType

        return {
            "content_type_id": str(ContentType.objects.get_for_model(Patient).pk),
            "object_id": str(world["patient"].pk),
        }
    if route.pattern.endswith("(?P<url>.*)$"):
        return {"url": "no-such-page/"}
    kwargs = {}
    if "<path:object_id>" in route.pattern or "<id>" in route.pattern:
        model = admin_model(route)
        obj = model._default_manager.first() if model is not None else None
        key = "object_id" if "object_id" in route.pattern else "id"
        kwargs[key] = str(obj.pk) if obj is not None else "1"
    return kwargs


def admin_model(route: Route):
    for model in admin.site._registry:
        prefix = f"admin/{model._meta.app_label}/{model._meta.model_name}/"
        if route.pattern.startswith(prefix):
            return model
    return None


def url_of(route: Route, world: dict) -> str:
    kwargs = admin_kwargs(route, world) if route.is_admin_site else route_kwargs(route, world)
    if route.name and not route.pattern.endswith("(?P<url>.*)$") and route.name != "admin:None":
        try:
            return reverse(route.name, kwargs=kwargs)
        except Exception:  # unnamed duplicates such as admin/<model>/<id>/ (the redirect to change)
            pass
    url = "/" + route.pattern.lstrip("^").rstrip("$")
    for match in _CONVERTER.finditer(url):
        name = match.group("name") or match.group("rname")
        url = url.replace(match.group(0), str(kwargs.get(name, "1")), 1)
    return url


def is_login_redirect(response, login_url: str) -> bool:
    return response.status_code == 302 and response["Location"].split("?")[0].endswith(login_url)


def refused_anonymous(response, route: Route) -> bool:
    login_url = reverse("admin:login") if route.is_admin_site else reverse(settings.LOGIN_URL)
    return is_login_redirect(response, login_url) or response.status_code in (401, 403)


# --- the rules -----------------------------------------------------------------------------------


def test_the_walk_finds_the_application_api_and_admin_routes():
    names = {route.name for route in ROUTES}
    assert {"dashboard", "audit", "api-audit", "admin:index", "login"} <= names
    assert any(route.pattern.startswith("api/v1/") for route in APP_ROUTES)
    print(
        f"\n{len(ROUTES)} routes: {len(APP_ROUTES)} application and API, {len(ADMIN_ROUTES)} admin, "
        f"{len(ROUTES) - len(APP_ROUTES) - len(ADMIN_ROUTES)} allow-listed"
    )


@pytest.mark.parametrize("route", APP_ROUTES, ids=lambda r: r.id)
def test_every_page_and_endpoint_declares_its_role(route):
    for method in ("GET", "POST"):
        role = declared_role(route, method)
        assert role in ROLES, (
            f"{route.pattern} ({route.id}) declares no required_role for {method}: decorate the page with "
            "diagnostics.access.role_required(ROLE) or set required_role on the DRF view"
        )
    if getattr(route.callback, "cls", None) is not None:
        assert any(isinstance(p, HasRole) for p in drf_permissions(route)), (
            f"{route.pattern}: the DRF view must use diagnostics.access.HasRole among its permission classes"
        )


@pytest.mark.parametrize("route", APP_ROUTES, ids=lambda r: r.id)
def test_every_page_and_endpoint_refuses_anonymous_and_wrong_role_and_admits_the_right_role(
    route, client, world, request
):
    url = url_of(route, world)
    role = declared_role(route, "GET") or CLINICIAN
    outcomes = {}

    for method in ("get", "post"):
        response = getattr(client, method)(url)
        outcomes[f"anonymous {method}"] = response.status_code
        assert refused_anonymous(response, route) or response.status_code == 405, (
            f"anonymous {method.upper()} {url} -> {response.status_code}"
        )
    assert any(code != 405 for key, code in outcomes.items()), f"{url} refused anonymous only by method"

    for method in ("get", "post"):
        method_role = declared_role(route, method.upper()) or role
        for wrong in {WRONG_ROLE[method_role], "no_role_user"}:
            client.force_login(request.getfixturevalue(wrong))
            response = getattr(client, method)(url)
            assert response.status_code in (403, 405), f"{wrong} {method.upper()} {url} -> {response.status_code}"
            if method == "post" or response.status_code != 405:
                outcomes[f"{wrong} {method}"] = response.status_code
            client.logout()
    assert any(code == 403 for key, code in outcomes.items() if not key.startswith("anonymous")), (
        f"{url}: the wrong role is refused only by method"
    )

    client.force_login(request.getfixturevalue(RIGHT_ROLE[role]))
    response = client.get(url)
    assert response.status_code < 500, f"{RIGHT_ROLE[role]} GET {url} -> {response.status_code}"
    assert response.status_code not in (401, 403), f"{RIGHT_ROLE[role]} GET {url} -> {response.status_code}"
    assert not is_login_redirect(response, reverse(settings.LOGIN_URL))


@pytest.mark.parametrize("route", ADMIN_ROUTES, ids=lambda r: r.id)
def test_the_admin_site_is_for_admins_only(route, client, world, admin_user, data_manager, clinician):
    url = url_of(route, world)
    admin_login = reverse("admin:login")
    assert is_login_redirect(client.get(url), admin_login), f"anonymous GET {url}"
    for user in (clinician, data_manager):
        client.force_login(user)
        response = client.get(url)
        assert is_login_redirect(response, admin_login) or response.status_code == 403, (
            f"{user.username} GET {url} -> {response.status_code}"
        )
        client.logout()

    client.force_login(admin_user)
    response = client.get(url)
    assert response.status_code < 500, f"admin GET {url} -> {response.status_code}"
    assert not is_login_redirect(response, admin_login)
    if response.status_code == 403 and route.name == "admin:autocomplete":
        return  # the admin's own refusal of an autocomplete query without its parameters
    if response.status_code == 403:  # only where the model admin is read-only by design
        model = admin_model(route)
        model_admin = admin.site._registry.get(model)
        fake = RequestFactory().get(url)
        fake.user = admin_user
        assert model_admin is not None and not (
            model_admin.has_add_permission(fake)
            if route.name.endswith("_add")
            else model_admin.has_delete_permission(fake)
        ), f"admin refused at {url}"


def test_the_public_routes_are_the_health_checks_only():
    assert sorted(route.name for route in PUBLIC_ROUTES) == ["healthz", "readyz"]


@pytest.mark.parametrize("route", PUBLIC_ROUTES, ids=lambda r: r.id)
def test_a_public_route_opens_without_login_and_tells_only_each_checks_result(route, client, db):
    response = client.get(url_of(route, {}))
    assert response.status_code in (200, 503)
    assert set(response.json().values()) <= {"ok", "failed"}
    assert client.post(url_of(route, {})).status_code == 405


def test_unknown_urls_are_404_not_500(client_for, clinician):
    assert client_for(clinician).get("/no/such/page/").status_code == 404


def test_the_walk_spots_a_view_that_declares_no_role():
    from django.http import HttpResponse
    from django.views.decorators.http import require_POST
    from rest_framework.views import APIView

    def bare(request):
        return HttpResponse("open to all")

    class BareEndpoint(APIView):
        pass

    class DeclaredEndpoint(APIView):
        required_role = DATA_MANAGER

    assert declared_role(Route("bare/", "bare", bare, "")) is None
    assert declared_role(Route("api/v1/bare", "bare-api", BareEndpoint.as_view(), "")) is None
    assert declared_role(Route("x/", "x", require_POST(role_required(ADMIN)(bare)), "")) == ADMIN
    assert declared_role(Route("api/v1/x", "x-api", DeclaredEndpoint.as_view(), "")) == DATA_MANAGER

    class OpenEndpoint(APIView):
        required_role = CLINICIAN
        permission_classes = []  # would drop the role check the settings add

    assert not any(isinstance(p, HasRole) for p in drf_permissions(Route("", "", OpenEndpoint.as_view(), "")))
