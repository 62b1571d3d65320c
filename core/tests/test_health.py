from django.db.utils import OperationalError


def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}
    assert client.post("/healthz").status_code == 405


def test_readyz_checks_database_and_broker(client, db):
    r = client.get("/readyz")
    assert r.status_code == 200, r.content
    assert r.json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}


class _DeadBroker:
    def connection_for_write(self):
        raise ConnectionRefusedError("broker down at redis://:password@10.0.0.9:6379")


def test_readyz_503_when_the_broker_is_down(client, db, monkeypatch):
    from core import views

    monkeypatch.setattr(views, "current_app", _DeadBroker())
    r = client.get("/readyz")
    assert r.status_code == 503
    assert r.json() == {"status": "unavailable", "checks": {"database": "ok", "broker": "fail"}}
    assert b"password" not in r.content


class _DeadConnection:
    def cursor(self):
        raise OperationalError("could not connect to server")


def test_readyz_503_when_the_database_is_down(client, db, monkeypatch):
    from core import views

    monkeypatch.setattr(views, "connection", _DeadConnection())
    r = client.get("/readyz")
    assert r.status_code == 503
    assert r.json()["checks"]["database"] == "fail"
