"""A local HTTP server speaking the subset of Grafana's HTTP API that `glassbox alerts sync` uses.

Implemented (JSON in and out, like Grafana 11/12):

- ``GET /api/health``
- ``GET /api/folders/{uid}`` (404 when missing), ``POST /api/folders``, ``PUT /api/folders/{uid}``
- ``GET|POST /api/v1/provisioning/alert-rules``, ``GET|PUT|DELETE /api/v1/provisioning/alert-rules/{uid}``
- ``GET|POST /api/v1/provisioning/contact-points``, ``PUT|DELETE /api/v1/provisioning/contact-points/{uid}``
- ``GET|PUT /api/v1/provisioning/policies``

It behaves like Grafana where a client could trip: a bearer token or basic auth is required (401);
rules need title, condition, data, folderUID, ruleGroup, for, noDataState and execErrState, an
existing folder and, for ``notification_settings.receiver``, an existing contact point (400); a
uid is unique (409 on a second create); stored rules come back with ``id``, ``updated``,
``provenance`` and the defaults Grafana adds to query models (``intervalMs``, ``maxDataPoints``), with
``for`` normalised (``300s`` → ``5m``); secure contact point settings come back redacted. Every
request is recorded (method, path, JSON body) in :attr:`FakeGrafana.requests`.
"""

from __future__ import annotations

import copy
import json
import re
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SECURE_SETTINGS = {"password", "token", "url_secret", "integrationKey", "apiKey"}


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    body: Any


def _duration(text: str) -> str:
    match = re.fullmatch(r"(\d+)([smhd])", str(text))
    if not match:
        raise ValueError(f"invalid duration {text!r}")
    seconds = int(match.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


class FakeGrafana:
    """Start with ``with FakeGrafana() as grafana:``; ``grafana.url`` is its base URL."""

    def __init__(self, token: str = "test-token") -> None:
        self.token = token
        self.requests: list[Request] = []
        self.folders: dict[str, dict[str, Any]] = {}
        self.rules: dict[str, dict[str, Any]] = {}
        self.contact_points: dict[str, dict[str, Any]] = {}
        self.policy: dict[str, Any] = {"receiver": "grafana-default-email", "group_by": ["grafana_folder", "alertname"]}
        self._next_id = 1
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}"

    def __enter__(self) -> FakeGrafana:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    @property
    def writes(self) -> list[Request]:
        return [r for r in self.requests if r.method in ("POST", "PUT", "DELETE")]

    def clear(self) -> None:
        self.requests.clear()

    # ------------------------------------------------------------------ routing

    def handle(self, method: str, path: str, body: Any, authorized: bool) -> tuple[int, Any]:
        with self._lock:
            self.requests.append(Request(method, path, copy.deepcopy(body)))
            if path == "/api/health":
                return 200, {"database": "ok", "version": "12.0.0-fake"}
            if not authorized:
                return 401, {"message": "Unauthorized"}
            for pattern, target in self._routes():
                match = re.fullmatch(pattern, path)
                if match and method in target:
                    try:
                        return target[method](body, *match.groups())
                    except ValueError as exc:
                        return 400, {"message": str(exc)}
            return 404, {"message": f"not found: {method} {path}"}

    def _routes(self) -> list[tuple[str, dict[str, Any]]]:
        return [
            (r"/api/folders/([^/]+)", {"GET": self._get_folder, "PUT": self._put_folder}),
            (r"/api/folders", {"POST": self._post_folder}),
            (r"/api/v1/provisioning/alert-rules", {"GET": self._list_rules, "POST": self._post_rule}),
            (r"/api/v1/provisioning/alert-rules/([^/]+)",
             {"GET": self._get_rule, "PUT": self._put_rule, "DELETE": self._delete_rule}),
            (r"/api/v1/provisioning/contact-points", {"GET": self._list_points, "POST": self._post_point}),
            (r"/api/v1/provisioning/contact-points/([^/]+)", {"PUT": self._put_point, "DELETE": self._delete_point}),
            (r"/api/v1/provisioning/policies", {"GET": self._get_policy, "PUT": self._put_policy}),
        ]  # fmt: skip

    # ------------------------------------------------------------------ folders

    def _get_folder(self, _body: Any, uid: str) -> tuple[int, Any]:
        folder = self.folders.get(uid)
        return (200, folder) if folder else (404, {"message": "folder not found"})

    def _post_folder(self, body: Any) -> tuple[int, Any]:
        uid = body.get("uid")
        if uid in self.folders:
            return 409, {"message": "a folder with the same uid already exists"}
        self.folders[uid] = {"uid": uid, "title": body["title"], "version": 1, "id": self._id()}
        return 200, self.folders[uid]

    def _put_folder(self, body: Any, uid: str) -> tuple[int, Any]:
        folder = self.folders.get(uid)
        if folder is None:
            return 404, {"message": "folder not found"}
        folder.update(title=body["title"], version=folder["version"] + 1)
        return 200, folder

    # ------------------------------------------------------------------ rules

    def _stored_rule(self, body: dict[str, Any], uid: str) -> dict[str, Any]:
        for key in ("title", "condition", "data", "folderUID", "ruleGroup", "for", "noDataState", "execErrState"):
            if key not in body or body[key] in (None, "", []):
                raise ValueError(f"invalid alert rule: {key} is required")
        if body["folderUID"] not in self.folders:
            raise ValueError(f"folder {body['folderUID']} does not exist")
        receiver = (body.get("notification_settings") or {}).get("receiver")
        if receiver and receiver not in {p["name"] for p in self.contact_points.values()}:
            raise ValueError(f"contact point {receiver!r} does not exist")
        refs = {d["refId"] for d in body["data"]}
        if body["condition"] not in refs:
            raise ValueError(f"condition {body['condition']} is not a query or expression of the rule")
        stored = copy.deepcopy(body)
        stored.update(uid=uid, orgID=body.get("orgID", 1), id=self._id(), updated="2026-01-01T00:00:00Z",
                      provenance="api", **{"for": _duration(body["for"])})  # fmt: skip
        for item in stored["data"]:
            item["model"].setdefault("intervalMs", 1000)
            item["model"].setdefault("maxDataPoints", 43200)
        stored.setdefault("labels", {})
        stored.setdefault("annotations", {})
        stored.setdefault("isPaused", False)
        return stored

    def _list_rules(self, _body: Any) -> tuple[int, Any]:
        return 200, list(self.rules.values())

    def _get_rule(self, _body: Any, uid: str) -> tuple[int, Any]:
        rule = self.rules.get(uid)
        return (200, rule) if rule else (404, {"message": "rule not found"})

    def _post_rule(self, body: Any) -> tuple[int, Any]:
        uid = body.get("uid") or f"r{self._id()}"
        if uid in self.rules:
            return 409, {"message": f"a rule with uid {uid} already exists"}
        self.rules[uid] = self._stored_rule(body, uid)
        return 201, self.rules[uid]

    def _put_rule(self, body: Any, uid: str) -> tuple[int, Any]:
        if uid not in self.rules:
            return 404, {"message": "rule not found"}
        self.rules[uid] = self._stored_rule(body, uid)
        return 200, self.rules[uid]

    def _delete_rule(self, _body: Any, uid: str) -> tuple[int, Any]:
        self.rules.pop(uid, None)
        return 204, None

    # ------------------------------------------------------------------ contact points and policy

    def _shown_point(self, point: dict[str, Any]) -> dict[str, Any]:
        shown = copy.deepcopy(point)
        shown["settings"] = {k: ("[REDACTED]" if k in SECURE_SETTINGS else v) for k, v in shown["settings"].items()}
        return shown

    def _list_points(self, _body: Any) -> tuple[int, Any]:
        return 200, [self._shown_point(p) for p in self.contact_points.values()]

    def _post_point(self, body: Any) -> tuple[int, Any]:
        uid = body.get("uid") or f"cp{self._id()}"
        if uid in self.contact_points:
            return 409, {"message": "contact point exists"}
        self.contact_points[uid] = {**copy.deepcopy(body), "uid": uid, "provenance": "api"}
        return 202, self._shown_point(self.contact_points[uid])

    def _put_point(self, body: Any, uid: str) -> tuple[int, Any]:
        if uid not in self.contact_points:
            return 404, {"message": "contact point not found"}
        self.contact_points[uid] = {**copy.deepcopy(body), "uid": uid, "provenance": "api"}
        return 202, {"message": "contactpoint updated"}

    def _delete_point(self, _body: Any, uid: str) -> tuple[int, Any]:
        name = self.contact_points.get(uid, {}).get("name")
        in_use = any((r.get("notification_settings") or {}).get("receiver") == name for r in self.rules.values())
        if in_use:
            return 400, {"message": f"contact point {name} is used by a rule"}
        self.contact_points.pop(uid, None)
        return 202, {"message": "contactpoint deleted"}

    def _get_policy(self, _body: Any) -> tuple[int, Any]:
        return 200, self.policy

    def _put_policy(self, body: Any) -> tuple[int, Any]:
        names = {p["name"] for p in self.contact_points.values()} | {"grafana-default-email"}
        receivers = [body.get("receiver")] + [r.get("receiver") for r in body.get("routes") or []]
        missing = [r for r in receivers if r not in names]
        if missing:
            raise ValueError(f"unknown receivers: {missing}")
        self.policy = {**copy.deepcopy(body), "provenance": "api"}
        return 202, {"message": "policies updated"}

    def _id(self) -> int:
        self._next_id += 1
        return self._next_id

    # ------------------------------------------------------------------ HTTP

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        grafana = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return None

            def _serve(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                auth = self.headers.get("Authorization", "")
                ok = auth == f"Bearer {grafana.token}" or auth.startswith("Basic ")
                status, payload = grafana.handle(method, self.path.split("?")[0], body, ok)
                data = b"" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def do_PUT(self) -> None:
                self._serve("PUT")

            def do_DELETE(self) -> None:
                self._serve("DELETE")

        return Handler
