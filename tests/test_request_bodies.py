"""Every request body is read whole or refused: chunked bodies over real gunicorn, missing bodies, unknown fields."""

import http.client
import io
import json

import pytest

from tests.api_builders import HYPO_PANEL, api, token_client
from tests.servers import gunicorn, prepared_home
from thyroweb.request_bodies import ChunkedBodyMiddleware

UPLOAD_LIMIT = 100_000  # bytes; the server accepts this plus a 1 MB envelope


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """gunicorn as production starts it (gunicorn.conf.py, thyroweb.wsgi) on a set-up embedded home: (port, token)."""
    home = tmp_path_factory.mktemp("bodies")
    token = prepared_home(home)
    with gunicorn(home, "--workers", "1", env={"THYROWEB_MAX_UPLOAD_BYTES": str(UPLOAD_LIMIT)}) as (_, port):
        yield port, token


def post(port: int, token: str, path: str, body, *, chunked: bool):
    """POST over a real socket; with chunked=True the body goes with Transfer-Encoding: chunked (no length)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json", "Authorization": f"Token {token}"}
    if chunked:
        pieces = [body[i : i + 7] for i in range(0, len(body), 7)]
        connection.request("POST", path, iter(pieces), headers, encode_chunked=True)
    else:
        connection.request("POST", path, body, headers)
    response = connection.getresponse()
    answer = response.status, response.read()
    connection.close()
    return answer


def get(port: int, token: str, path: str):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", path, headers={"Authorization": f"Token {token}"})
    response = connection.getresponse()
    return response.status, json.loads(response.read())


@pytest.mark.slow
def test_a_chunked_panel_is_scored_as_the_same_panel_sent_with_a_length(server):
    port, token = server
    body = json.dumps(HYPO_PANEL).encode()
    status, chunked = post(port, token, "/api/v1/predict", body, chunked=True)
    assert status == 200, chunked
    status, plain = post(port, token, "/api/v1/predict", body, chunked=False)
    assert status == 200
    assert json.loads(chunked)["probabilities"] == json.loads(plain)["probabilities"]
    assert json.loads(chunked)["probabilities"]["hypothyroid"] > 0.5  # TSH 45: not an empty panel


@pytest.mark.slow
def test_a_chunked_panel_stored_for_a_patient_keeps_its_values(server):
    port, token = server
    body = json.dumps({**HYPO_PANEL, "patient": "MRN-CHUNKED"}).encode()
    status, answer = post(port, token, "/api/v1/predict", body, chunked=True)
    assert status == 201, answer
    patient_id = json.loads(answer)["patient_id"]
    status, panels = get(port, token, f"/api/v1/patients/{patient_id}/panels/")
    assert status == 200
    [panel] = panels["results"]
    assert (panel["TSH"], panel["TT4"], panel["FTI"]) == (45.0, 40.0, 42.0)


@pytest.mark.slow
def test_a_chunked_body_over_the_limit_is_refused_with_413(server):
    port, token = server
    body = json.dumps({"TSH": 45, "padding": "x" * (UPLOAD_LIMIT + 1024 * 1024)}).encode()
    status, answer = post(port, token, "/api/v1/predict", body, chunked=True)
    assert status == 413
    assert "at most" in json.loads(answer)["errors"]["body"][0]


@pytest.mark.slow
@pytest.mark.parametrize("chunked", [True, False])
def test_an_empty_body_is_a_400_naming_the_body_not_an_empty_panel(server, chunked):
    port, token = server
    status, answer = post(port, token, "/api/v1/predict", b"", chunked=chunked)
    assert status == 400
    assert "needs a request body" in json.loads(answer)["errors"]["body"][0]


def test_a_chunked_body_the_server_did_not_dechunk_is_refused_with_411():
    """A WSGI server that passes the chunked stream without marking it terminated: 411, the app never runs."""
    called = []
    app = ChunkedBodyMiddleware(lambda environ, start_response: called.append(environ))
    statuses = []
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/api/v1/predict",
        "HTTP_TRANSFER_ENCODING": "chunked",
        "wsgi.input": io.BytesIO(b'7\r\n{"TSH":\r\n0\r\n\r\n'),
    }
    body = b"".join(app(environ, lambda status, headers: statuses.append(status)))
    assert statuses == ["411 Length Required"] and not called
    assert "Content-Length" in json.loads(body)["errors"]["body"][0]


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/api/v1/predict", "/api/v1/predict/bulk", "/api/v1/patients/", "/api/v1/fhir/Bundle"])
def test_a_post_without_a_body_is_a_400_naming_the_body(clinician, url):
    response = token_client(clinician).generic("POST", url, b"", content_type="application/json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["body"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/api/v1/predict", {**HYPO_PANEL, "tsh_units": "mU/L"}),
        ("/api/v1/predict/bulk", {"panels": [HYPO_PANEL], "tsh_units": "mU/L"}),
        ("/api/v1/predict/bulk", {"panels": [{**HYPO_PANEL, "tsh_units": "mU/L"}]}),
        ("/api/v1/patients/", {"record_number": "MRN-X", "sex": "F", "tsh_units": "mU/L"}),
    ],
)
def test_an_unknown_field_is_refused_by_name(clinician, url, body):
    response = api(token_client(clinician), "post", url, body)
    assert response.status_code == 400
    assert any(key.endswith("tsh_units") for key in response.json()["errors"])


@pytest.mark.django_db
def test_the_schema_marks_bodies_required_and_unknown_fields_refused(clinician):
    schema = token_client(clinician).get("/api/v1/schema/?format=json").json()
    paths, components = schema["paths"], schema["components"]["schemas"]
    for path in ("/api/v1/predict", "/api/v1/predict/bulk", "/api/v1/patients/", "/api/v1/fhir/Bundle"):
        assert paths[path]["post"]["requestBody"]["required"] is True, path
    assert paths["/api/v1/patients/{id}/"]["put"]["requestBody"]["required"] is True
    assert not paths["/api/v1/model-versions/{version}/activate"]["post"]["requestBody"].get("required")
    for name in ("PredictRequestRequest", "BulkPredictRequestRequest", "PanelValuesRequest", "PatientRequest"):
        assert components[name]["additionalProperties"] is False, name
