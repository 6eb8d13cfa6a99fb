"""The MQTT connection shared by the coordinator and the members (paho-mqtt)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
import logging
from pathlib import Path
import threading
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt

from ems_optimizer.settings import SettingsError, read_json_object

from .protocol import check_name

_LOGGER = logging.getLogger(__name__)
CONNECT_TIMEOUT_S = 10.0


class LinkError(ValueError):
    """Bad connection settings (the message names the field)."""


@dataclass(frozen=True)
class Account:
    """Where and as whom to connect."""

    broker: str  # mqtt://host:port or mqtts://host:port
    community: str
    username: str
    password: str = field(repr=False)

    def __post_init__(self) -> None:
        """Check the URL and the names now, not at the first round."""
        parse_broker(self.broker)
        check_name(self.community, "community")
        if not self.username:
            raise LinkError("username: empty")

    @classmethod
    def from_file(cls, path: str | Path) -> Account:
        """An account from a credentials file (`ems-optimizer community setup` writes them)."""
        try:
            data = read_json_object(path, "credentials")
        except SettingsError as err:
            raise LinkError(str(err)) from None
        try:
            return cls(
                str(data["broker"]),
                str(data["community"]),
                str(data["username"]),
                str(data["password"]),
            )
        except KeyError as err:
            raise LinkError(f"credentials {path}: missing {err.args[0]!r}") from None
        except ValueError as err:
            raise LinkError(f"credentials {path}: {err}") from None


def parse_broker(url: str) -> tuple[str, int, bool]:
    """(host, port, tls) of mqtt://host[:1883] or mqtts://host[:8883]."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise LinkError(f"broker {url!r}: expected mqtt://host:port or mqtts://host:port")
    tls = parts.scheme == "mqtts"
    try:
        port = parts.port or (8883 if tls else 1883)
    except ValueError:
        raise LinkError(f"broker {url!r}: bad port") from None
    return parts.hostname, port, tls


type Handler = Callable[[str, bytes, bool], None]


class Link:
    """A paho client that reconnects by itself; `handler(topic, payload, retained)` per message.

    `subscriptions` are made again on every (re)connection; `on_connect` runs after them.
    """

    def __init__(
        self,
        account: Account,
        client_id: str,
        subscriptions: list[str],
        handler: Handler,
        *,
        will: tuple[str, bytes] | None = None,
        on_connect: Callable[[], None] | None = None,
    ) -> None:
        self.account = account
        self.subscriptions = subscriptions
        self.handler = handler
        self.on_connect_hook = on_connect
        self.connected = threading.Event()
        self._stopping = False
        self.refused: str | None = None  # the broker's reason when it refused us
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
        client.username_pw_set(account.username, account.password)
        host, port, tls = parse_broker(account.broker)
        if tls:
            client.tls_set()
        if will is not None:
            client.will_set(will[0], will[1], qos=1, retain=True)
        client.reconnect_delay_set(1, 30)
        client.on_connect = self._connected
        client.on_disconnect = self._disconnected
        client.on_message = self._message
        self.client = client
        self.host, self.port = host, port

    def start(self, wait_s: float = CONNECT_TIMEOUT_S) -> bool:
        """Connect in the background; whether connected within `wait_s` (it keeps trying)."""
        self.client.connect_async(self.host, self.port, keepalive=30)
        self.client.loop_start()
        return self.connected.wait(wait_s)

    def stop(self) -> None:
        """Disconnect (the will is not sent on a clean disconnect) and stop the thread."""
        self._stopping = True
        self.client.disconnect()
        self.client.loop_stop()

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> Any:
        """Publish with QoS 1 (queued by paho while disconnected); paho's message info."""
        return self.client.publish(topic, payload, qos=1, retain=retain)

    def _connected(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        del userdata, flags, props
        if reason.is_failure:
            self.refused = str(reason)
            _LOGGER.error("the broker %s refused %s: %s", self.account.broker,
                          self.account.username, reason)  # fmt: skip
            return
        self.refused = None
        for topic in self.subscriptions:
            client.subscribe(topic, qos=1)
        if self.on_connect_hook is not None:
            self.on_connect_hook()  # before `connected`: whoever waits for it comes after
        self.connected.set()
        _LOGGER.info("connected to %s as %s", self.account.broker, self.account.username)

    def _disconnected(
        self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        del client, userdata, flags, props
        if self.connected.is_set() and not self._stopping:
            _LOGGER.warning("disconnected from %s (%s): reconnecting", self.account.broker, reason)
        self.connected.clear()

    def _message(self, client: Any, userdata: Any, message: Any) -> None:
        del client, userdata
        try:
            self.handler(message.topic, bytes(message.payload), bool(message.retain))
        except Exception:
            _LOGGER.exception("message on %s not handled", message.topic)
