//! The load generators: closed loop (each connection sends its next request as soon as the
//! last is answered, like `wrk`) and open loop (the realistic mix: requests at fixed times,
//! whatever the server's pace).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::client::{Connection, Failure};
use crate::gws;
use crate::stats::Stats;

/// Load threads, each with its own event loop, like `wrk -t2`.
pub const LOAD_THREADS: usize = 2;

/// Each connection's requests, sent in turn (cycled).
pub type ConnRequests = Vec<Arc<Vec<Vec<u8>>>>;

/// Spreads `requests` over `connections`: connection j gets j, j+C, j+2C, … (cycled), so every
/// request in the list is used and neighbouring connections hit different chats.
pub fn spread(requests: Vec<Vec<u8>>, connections: usize) -> ConnRequests {
    let c = connections;
    let n = requests.len();
    (0..c)
        .map(|j| {
            let mine: Vec<Vec<u8>> = if j < n {
                (j..n).step_by(c).map(|i| requests[i].clone()).collect()
            } else {
                vec![requests[j % n].clone()]
            };
            Arc::new(mine)
        })
        .collect()
}

/// What the tasks of a load return, merged over tasks and threads.
trait Outcome: Default + Send + 'static {
    fn merge(&mut self, other: Self);
    /// A task or a thread panicked.
    fn panicked(&mut self, what: &str);
}

impl Outcome for Stats {
    fn merge(&mut self, other: Stats) {
        Stats::merge(self, other);
    }

    fn panicked(&mut self, what: &str) {
        self.error(what);
    }
}

/// Deals `groups` to `LOAD_THREADS` threads (group i to thread i % LOAD_THREADS); each thread
/// runs one task per group on its own single-threaded event loop. Returns the merged outcomes.
fn on_load_threads<G, R, F, Fut>(groups: Vec<G>, task: F) -> R
where
    G: Send + 'static,
    R: Outcome,
    F: Fn(G) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = R> + 'static,
{
    let mut per_thread: Vec<Vec<G>> = (0..LOAD_THREADS).map(|_| Vec::new()).collect();
    for (i, group) in groups.into_iter().enumerate() {
        per_thread[i % LOAD_THREADS].push(group);
    }
    let handles: Vec<_> = per_thread
        .into_iter()
        .map(|groups| {
            let task = task.clone();
            thread::spawn(move || {
                actix_web::rt::System::new().block_on(async move {
                    let tasks: Vec<_> =
                        groups.into_iter().map(|g| actix_web::rt::spawn(task(g))).collect();
                    let mut out = R::default();
                    for t in tasks {
                        match t.await {
                            Ok(r) => out.merge(r),
                            Err(_) => out.panicked("a load task panicked"),
                        }
                    }
                    out
                })
            })
        })
        .collect();
    let mut out = R::default();
    for h in handles {
        match h.join() {
            Ok(r) => out.merge(r),
            Err(_) => out.panicked("a load thread panicked"),
        }
    }
    out
}

// ------------------------------------------------------------------------------------------
// Closed loop

/// Runs the closed-loop connections for `warmup` (not measured), then `duration`.
pub fn run_closed(
    addr: SocketAddr,
    conns: ConnRequests,
    warmup: Duration,
    duration: Duration,
) -> Stats {
    let measure = Instant::now() + warmup;
    let end = measure + duration;
    on_load_threads(conns, move |reqs| closed_conn(addr, reqs, measure, end))
}

/// One closed-loop connection: request, whole response, next request, until `end`. Latencies
/// of the successful requests that started after `measure` and ended before `end` are kept.
async fn closed_conn(
    addr: SocketAddr,
    reqs: Arc<Vec<Vec<u8>>>,
    measure: Instant,
    end: Instant,
) -> Stats {
    let mut stats = Stats::default();
    let mut conn = Connection::new(addr);
    let mut i = 0;
    loop {
        let start = Instant::now();
        if start >= end {
            break;
        }
        let result = conn.send(&reqs[i % reqs.len()]).await;
        match result {
            Ok(head) => {
                let done = Instant::now();
                if head.is_success() {
                    if start >= measure && done <= end {
                        stats.record(done - start);
                    }
                } else {
                    stats.error(format!("HTTP {}", head.status));
                }
            }
            Err(Failure::Connect(e)) => {
                // The same request again, after a pause.
                stats.error(e);
                actix_web::rt::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
            Err(e) => stats.error(e.text()),
        }
        i += 1;
    }
    stats
}

// ------------------------------------------------------------------------------------------
// Open loop: the realistic mix

pub struct MixSpec {
    pub addr: SocketAddr,
    /// Each widget's chat id and the index it asks for first (newest + 1).
    pub widgets: Vec<(String, i64)>,
    pub senders: usize,
    pub connections: usize,
    pub warmup: Duration,
    pub duration: Duration,
}

#[derive(Default)]
pub struct MixResult {
    pub poll: Stats,
    pub send: Stats,
    /// Messages the widgets' polls brought.
    pub received: u64,
}

impl MixResult {
    fn kind(&mut self, send: bool) -> &mut Stats {
        if send {
            &mut self.send
        } else {
            &mut self.poll
        }
    }
}

impl Outcome for MixResult {
    fn merge(&mut self, other: MixResult) {
        self.poll.merge(other.poll);
        self.send.merge(other.send);
        self.received += other.received;
    }

    fn panicked(&mut self, what: &str) {
        self.poll.error(what);
    }
}

/// A widget polling its chat, or a customer sending into it.
struct Actor {
    send: bool,
    chat: String,
    next: i64,
}

/// The realistic mix: every widget polls once a second (phases spread evenly over the second);
/// `senders` of them also send a message every second. Widgets are dealt to the connections, and
/// a sender shares its widget's connection, like a browser tab.
pub fn run_mix(spec: MixSpec) -> MixResult {
    let start = Instant::now() + Duration::from_millis(20);
    let measure = start + spec.warmup;
    let end = measure + spec.duration;
    let w = spec.widgets.len();
    let c = spec.connections.max(1);
    let mut per_conn: Vec<Vec<(Instant, Actor)>> = (0..c).map(|_| Vec::new()).collect();
    for (i, (chat, next)) in spec.widgets.iter().enumerate() {
        let phase = Duration::from_secs_f64(i as f64 / w as f64);
        per_conn[i % c]
            .push((start + phase, Actor { send: false, chat: chat.clone(), next: *next }));
    }
    let stride = (w / spec.senders.max(1)).max(1);
    for s in 0..spec.senders {
        let i = (s * stride) % w;
        let phase = Duration::from_secs_f64((s as f64 + 0.5) / spec.senders as f64);
        let chat = spec.widgets[i].0.clone();
        per_conn[i % c].push((start + phase, Actor { send: true, chat, next: 0 }));
    }
    let host: Arc<str> = Arc::from(spec.addr.to_string());
    let addr = spec.addr;
    on_load_threads(per_conn, move |actors| mix_conn(addr, host.clone(), actors, measure, end))
}

/// One connection of the open loop: its actors' requests in due order. A request is sent at its
/// due time or, if the connection is still busy, as soon as it is free; its latency counts from
/// the due time, so a slow server cannot hide its queue (no coordinated omission).
async fn mix_conn(
    addr: SocketAddr,
    host: Arc<str>,
    mut actors: Vec<(Instant, Actor)>,
    measure: Instant,
    end: Instant,
) -> MixResult {
    const PERIOD: Duration = Duration::from_secs(1);
    let mut out = MixResult::default();
    let mut heap: BinaryHeap<Reverse<(Instant, usize)>> =
        actors.iter().enumerate().map(|(i, (due, _))| Reverse((*due, i))).collect();
    let mut conn = Connection::new(addr);
    while let Some(Reverse((due, a))) = heap.pop() {
        if due >= end {
            break;
        }
        heap.push(Reverse((due + PERIOD, a)));
        actix_web::rt::time::sleep_until(due.into()).await;
        let actor = &mut actors[a].1;
        let req = if actor.send {
            gws::send_message(&host, &actor.chat)
        } else {
            gws::transcript_from(&host, &actor.chat, actor.next)
        };
        let counted = due >= measure;
        let send = actor.send;
        match conn.send(&req).await {
            Ok(head) => {
                let done = Instant::now();
                if !head.is_success() {
                    out.kind(send).error(format!("HTTP {}", head.status));
                } else if send {
                    if counted {
                        out.send.record(done - due);
                    }
                } else {
                    if counted {
                        out.poll.record(done - due);
                    }
                    match gws::newest_index(conn.body(&head)) {
                        Ok(Some((newest, n))) => {
                            actor.next = actor.next.max(newest + 1);
                            out.received += n;
                        }
                        Ok(None) => {}
                        Err(e) => out.poll.error(e),
                    }
                }
            }
            Err(e) => out.kind(send).error(e.text()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_spread_over_every_connection() {
        let reqs = |n: u8| (0..n).map(|i| vec![i]).collect::<Vec<_>>();
        let conns = spread(reqs(5), 2);
        assert_eq!(*conns[0], vec![vec![0], vec![2], vec![4]]);
        assert_eq!(*conns[1], vec![vec![1], vec![3]]);
        // Fewer requests than connections: each connection still has one.
        let conns = spread(reqs(2), 3);
        assert_eq!(conns.iter().map(|c| c[0][0]).collect::<Vec<_>>(), vec![0, 1, 0]);
    }
}

// ------------------------------------------------------------------------------------------
// Each request once

/// The answers' bodies, by the position of their request.
#[derive(Default)]
struct Bodies {
    bodies: Vec<(usize, Vec<u8>)>,
    errors: Vec<String>,
}

impl Outcome for Bodies {
    fn merge(&mut self, other: Bodies) {
        self.bodies.extend(other.bodies);
        self.errors.extend(other.errors);
    }

    fn panicked(&mut self, what: &str) {
        self.errors.push(what.to_string());
    }
}

/// Sends every request once, over `connections` keep-alive connections (request i on connection
/// i % connections, in order), and returns the bodies of the answers in the order of the
/// requests. Any failure or answer that is not 2xx is an error.
pub fn run_each(
    addr: SocketAddr,
    requests: Vec<Vec<u8>>,
    connections: usize,
) -> Result<Vec<Vec<u8>>, String> {
    let n = requests.len();
    let c = connections.max(1);
    let mut groups: Vec<Vec<(usize, Vec<u8>)>> = (0..c).map(|_| Vec::new()).collect();
    for (i, req) in requests.into_iter().enumerate() {
        groups[i % c].push((i, req));
    }
    let out: Bodies = on_load_threads(groups, move |reqs| async move {
        let mut out = Bodies::default();
        let mut conn = Connection::new(addr);
        for (i, req) in reqs {
            match conn.send(&req).await {
                Ok(head) if head.is_success() => out.bodies.push((i, conn.body(&head).to_vec())),
                Ok(head) => out.errors.push(format!(
                    "HTTP {}: {}",
                    head.status,
                    String::from_utf8_lossy(conn.body(&head)).chars().take(200).collect::<String>()
                )),
                Err(e) => out.errors.push(e.text()),
            }
        }
        out
    });
    if let Some(e) = out.errors.first() {
        return Err(format!("{} of {n} requests failed; the first: {e}", out.errors.len()));
    }
    let mut bodies = out.bodies;
    bodies.sort_by_key(|(i, _)| *i);
    Ok(bodies.into_iter().map(|(_, b)| b).collect())
}
