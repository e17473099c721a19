//! Panic isolation: a panic in the broker or in a connection's task closes that one
//! connection, is counted, and leaves the server serving everybody else.

use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::task::Poll;

use broker_core::Config;
use tokio::sync::Semaphore;

use super::*;
use crate::connection::{self, Transport};
use crate::context::{Context, Limits};
use crate::outbox::Batch;
use crate::refusals::Refusals;

/// CONNECT: protocol "MQTT" level 4, clean session, keep-alive 60 s, client id "b".
const CONNECT: [u8; 15] = [
    0x10, 13, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 60, 0, 1, b'b',
];
const CONNACK: [u8; 4] = [0x20, 2, 0, 0];

fn accept(owner: &mut Owner) -> (ConnId, Arc<Outbox>, oneshot::Receiver<ConnId>) {
    let outbox = Arc::new(Outbox::new(1 << 20));
    let (reply, mut answer) = oneshot::channel();
    owner.handle(Input::Accept {
        peer: Box::new(PeerInfo::default()),
        outbox: outbox.clone(),
        reply,
    });
    let conn = answer
        .try_recv()
        .expect("the owner answers an accept at once");
    (conn, outbox, answer)
}

async fn next_batch(outbox: &Outbox) -> Batch {
    poll_fn(|cx| outbox.poll_batch(cx)).await
}

#[tokio::test]
async fn a_panic_in_the_broker_closes_only_the_connection_it_was_handling() {
    let (events, _) = broadcast::channel(16);
    let (live, _) = broadcast::channel(8);
    let mut owner = Owner::new(Config::default(), events, None, live).expect("no file to open");
    let (victim, victim_outbox, _keep) = accept(&mut owner);
    let (bystander, bystander_outbox, _keep_too) = accept(&mut owner);

    owner.guarded(Some(victim), |_| panic!("a bug in the broker (deliberate)"));

    assert!(matches!(next_batch(&victim_outbox).await, Batch::Abort));
    assert!(!owner.conns.contains_key(&victim));
    let bytes = Bytes::from_static(&CONNECT);
    owner.guarded(Some(bystander), |owner| {
        owner.handle(Input::Bytes {
            conn: bystander,
            bytes,
        });
    });
    match next_batch(&bystander_outbox).await {
        Batch::Write(packets) => assert_eq!(&packets[0][..], CONNACK),
        other => panic!("the bystander should get its CONNACK, got {other:?}"),
    }
    let snapshot = Snapshot {
        stats: owner.broker.stats().clone(),
        counters: owner.counters.clone(),
        connections_open: owner.conns.len(),
        event_watchers: 0,
    };
    let metrics = crate::metrics::render(&snapshot, &Refusals::default());
    assert!(
        metrics.contains("brokerlab_panics_total{place=\"broker\"} 1\n"),
        "{metrics}"
    );
    assert_eq!(snapshot.connections_open, 1);
}

/// A transport whose first read panics, as a bug in a transport would.
struct PanickingTransport;

impl Transport for PanickingTransport {
    fn poll_read(&mut self, _: &mut std::task::Context<'_>) -> Poll<io::Result<Option<Bytes>>> {
        panic!("a bug in a transport (deliberate)");
    }

    async fn write(&mut self, _: &[Bytes]) -> io::Result<()> {
        Ok(())
    }

    async fn close(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_panic_in_a_connection_task_is_reported_to_the_owner_which_carries_on() {
    let owner = spawn(Config::default(), None, None).expect("no store to start");
    let (_stop_tx, stop) = tokio::sync::watch::channel(false);
    let limits = Limits {
        max_connections: 10,
        connect_rate_per_ip: None,
        max_outgoing_bytes: 1 << 20,
        max_packet_size: 1 << 20,
        events_token: None,
    };
    let ctx = Arc::new(Context::new(owner.clone(), limits, stop));
    let permit = Arc::new(Semaphore::new(1))
        .try_acquire_owned()
        .expect("a free permit");
    let addr: SocketAddr = "127.0.0.1:1".parse().expect("an address");
    let task = tokio::spawn(connection::run(connection::Connection {
        transport: PanickingTransport,
        peer: crate::listeners::peer_info(addr, None),
        ctx,
        _permit: permit,
    }));
    assert!(task.await.expect_err("the task panics").is_panic());

    // The owner hears of it through its input queue; a snapshot taken after that input
    // was handled shows the connection gone. The guard may have had to hand the input to
    // a task of its own, so the snapshot is asked for until it shows it, with a deadline.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let snapshot = owner.snapshot().await.expect("the owner still runs");
        let metrics = crate::metrics::render(&snapshot, &Refusals::default());
        if snapshot.connections_open == 0
            && metrics.contains("brokerlab_panics_total{place=\"connection-task\"} 1\n")
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the owner never heard of the panic:\n{metrics}"
        );
        tokio::task::yield_now().await;
    }
    assert!(owner.is_running());
}
