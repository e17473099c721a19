//! Keep-alive: silence for one and a half periods closes the connection (MQTT-3.1.2-24).

mod support;

use broker_core::*;
use support::*;

fn connect_ka(sim: &mut Sim, id: &str, keep_alive: u16) -> ConnId {
    let mut c = connect(id, true);
    c.keep_alive = keep_alive;
    let (conn, _) = sim.connect_with(c);
    conn
}

#[test]
fn mqtt_3_1_2_24_closes_after_one_and_a_half_periods_of_silence() {
    let mut sim = Sim::standard();
    let conn = connect_ka(&mut sim, "a", 10);
    sim.advance(14_999);
    assert!(sim.closed(conn).is_none());
    sim.advance(1);
    assert_eq!(sim.closed(conn), Some(&CloseReason::KeepAliveTimeout));
}

#[test]
fn mqtt_3_1_2_24_any_packet_resets_the_keep_alive() {
    let mut sim = Sim::standard();
    let conn = connect_ka(&mut sim, "a", 10);
    for _ in 0..5 {
        sim.advance(14_000);
        sim.publish(conn, "t", "x", QoS::AtMostOnce, false, 0);
    }
    assert!(sim.closed(conn).is_none());
    sim.advance(15_000);
    assert_eq!(sim.closed(conn), Some(&CloseReason::KeepAliveTimeout));
}

#[test]
fn mqtt_3_12_4_1_pingreq_gets_pingresp_and_keeps_alive() {
    let mut sim = Sim::standard();
    let conn = connect_ka(&mut sim, "a", 2);
    for _ in 0..10 {
        sim.advance(2_000);
        sim.send(conn, Packet::PingReq);
        assert_eq!(sim.recv(conn), Some(Packet::PingResp));
    }
    assert!(sim.closed(conn).is_none());
}

#[test]
fn keep_alive_zero_turns_the_mechanism_off() {
    let mut sim = Sim::standard();
    let conn = connect_ka(&mut sim, "a", 0);
    sim.advance(24 * 3600 * 1000);
    assert!(sim.closed(conn).is_none());
}

#[test]
fn keep_alive_timeout_publishes_the_will() {
    let mut sim = Sim::standard();
    let watcher = sim.connect("w", true);
    sim.subscribe(watcher, &[("will", QoS::AtMostOnce)]);
    let mut c = connect("a", true);
    c.keep_alive = 1;
    c.will = Some(LastWill {
        properties: Properties::new(),
        topic: topic("will"),
        payload: "timeout".into(),
        qos: QoS::AtMostOnce,
        retain: false,
    });
    sim.connect_with(c);
    sim.advance(1_500);
    assert_eq!(payloads(&sim.publishes(watcher)), ["timeout"]);
}

#[test]
fn timer_fired_event_names_the_keep_alive() {
    let mut sim = Sim::standard();
    let conn = connect_ka(&mut sim, "a", 1);
    sim.advance(2_000);
    let fired = sim.events_where(|e| match e {
        Event::TimerFired { conn: c, timer } if *c == conn => Some(*timer),
        _ => None,
    });
    assert_eq!(fired, [TimerKind::KeepAlive]);
}

#[test]
fn poll_timeout_names_the_keep_alive_deadline_exactly() {
    let mut sim = Sim::standard();
    let conn = sim.open();
    // Before CONNECT, the CONNECT deadline (10 s) is the only timer.
    assert_eq!(
        sim.broker.poll_timeout(),
        Some(Instant::from_millis(10_000))
    );
    let mut c = connect("a", true);
    c.keep_alive = 60;
    sim.send(conn, Packet::Connect(c));
    // CONNECT stopped the deadline: the keep-alive check at 90 s is next.
    assert_eq!(
        sim.broker.poll_timeout(),
        Some(Instant::from_millis(90_000))
    );
    // A packet moves the check to 90 s after it.
    sim.advance(5_000);
    sim.send(conn, Packet::PingReq);
    assert_eq!(
        sim.broker.poll_timeout(),
        Some(Instant::from_millis(95_000))
    );
}

#[test]
fn the_maximum_keep_alive_of_65535_seconds_is_honoured() {
    let mut sim = Sim::standard();
    let conn = connect_ka(&mut sim, "a", u16::MAX);
    sim.advance(65_535 * 1500 - 1);
    assert!(sim.closed(conn).is_none());
    sim.advance(1);
    assert_eq!(sim.closed(conn), Some(&CloseReason::KeepAliveTimeout));
}

#[test]
fn timers_of_closed_connections_do_not_accumulate() {
    // A hostile pattern: connect with the longest keep-alive, leave, repeat.
    let mut sim = Sim::standard();
    for i in 0..2_000 {
        let mut c = connect(&format!("c{i}"), true);
        c.keep_alive = u16::MAX;
        let (conn, _) = sim.connect_with(c);
        sim.drop_conn(conn);
    }
    assert_eq!(sim.broker.pending_timers(), 0, "a close stops its timers");
}
