"""The battery watches: alarms, frozen values, failed writes, a battery that does not follow."""

from __future__ import annotations

from ems_core.watch import (
    FOLLOW_AFTER_S,
    FOLLOW_SETTLE_S,
    FROZEN_AFTER_S,
    FollowWatch,
    FreezeWatch,
    WriteWatch,
    active_alarms,
)


def test_active_alarms() -> None:
    data = {"alarm_fault": True, "alarm_over_voltage": False, "soc": 50.0, "fault_code": 3}
    assert active_alarms(data) == ["alarm_fault"]
    assert active_alarms({"alarm_fault": None}) == []


def test_frozen_only_while_commanded_and_until_values_change() -> None:
    watch = FreezeWatch()
    values = {"soc": 50.0, "power": 1000.0}
    assert not watch.observe(values, 0.0, 0.0)
    # Idle with unchanging values for a long time: fine.
    assert not watch.observe(values, 0.0, 10 * FROZEN_AFTER_S)
    # Commanded: unchanged values for FROZEN_AFTER_S make it frozen.
    start = 10 * FROZEN_AFTER_S
    assert not watch.observe(values, 2000.0, start + FROZEN_AFTER_S - 1)
    assert watch.observe(values, 2000.0, start + FROZEN_AFTER_S)
    # Held at 0 W it stays frozen as long as nothing changes…
    assert watch.observe(values, 0.0, start + 2 * FROZEN_AFTER_S)
    # …and recovers as soon as the values move again.
    assert not watch.observe({**values, "power": 990.0}, 0.0, start + 2 * FROZEN_AFTER_S + 5)


def test_write_watch_backs_off_and_recovers() -> None:
    watch = WriteWatch()
    watch.failed(0.0, "exception 4")
    assert not watch.untrusted  # one failure may be a glitch
    assert not watch.due(4.0)
    assert watch.due(5.0)
    watch.failed(5.0, "exception 4")
    assert watch.untrusted
    assert not watch.due(14.0)
    assert watch.due(15.0)  # 10 s after the second failure
    for i in range(20):
        watch.failed(100.0 * i, "x")
    assert watch.next_try_s == 1900.0 + 300.0  # capped
    watch.succeeded(2500.0)
    assert not watch.untrusted
    assert watch.due(2500.0)
    assert watch.total_failures == 22
    assert watch.last_error is None


def test_follow_watch() -> None:
    watch = FollowWatch()
    # A new command has time to take effect, then the battery must stay off it for a while.
    seen = {t: watch.observe(3000.0, 0.0, float(t)) for t in range(0, 120, 5)}
    assert not any(on for t, on in seen.items() if t < FOLLOW_SETTLE_S + FOLLOW_AFTER_S)
    assert seen[int(FOLLOW_SETTLE_S + FOLLOW_AFTER_S)]
    # Following again clears it.
    assert not watch.observe(3000.0, 2900.0, 1000.0)
    # Small moves of the command (a PI loop) do not restart the settling time.
    t = 2000.0
    for i in range(40):
        assert not watch.observe(-1000.0 - i, -1000.0, t + 5 * i)
    for i in range(40):
        watch.observe(-1000.0 - i, 0.0, t + 200 + 5 * i)
    assert watch.not_following
    assert not watch.observe(None, 0.0, t + 500)
