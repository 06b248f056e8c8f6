"""`docker compose down` then `up`: what was stored survives in the named volumes."""

from __future__ import annotations

from tests.compose.flows import create_payment, payment
from tests.support import eventually
from tests.support.compose import ComposeStack


def test_down_then_up_keeps_data_in_the_named_volumes(compose: ComposeStack) -> None:
    with compose.client() as client:
        kept = create_payment(client)
        sms = client.post("/v1/sms", json={"to": "+24177999002", "message": "kept"})
        assert sms.status_code == 202, sms.text

        def sent() -> bool:
            assert client.get(f"/v1/sms/{sms.json()['id']}").json()["status"] == "sent"
            return True

        eventually(sent, timeout=60, interval=0.5)

    compose.down(volumes=False)
    assert not compose.container_ids("gateway")
    compose.up()

    with compose.client() as client:
        assert payment(client, kept["id"])["reference"] == kept["reference"]
        assert client.get(f"/v1/sms/{sms.json()['id']}").json()["status"] == "sent"
