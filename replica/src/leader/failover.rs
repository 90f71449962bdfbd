//! `--failover auto` for the leader modes: promote the most up-to-date reachable follower
//! when the primary goes silent. Deliberately not consensus (see the module docs of `leader`).

use super::{Leader, Req, Resp, Role};
use std::sync::Arc;
use std::time::{Duration, Instant};

impl Leader {
    /// `--failover auto`: promote the most up-to-date reachable follower when the primary is
    /// silent. Deliberately not consensus.
    pub(super) async fn elections(self: Arc<Self>) {
        let cfg = &self.ctx.cfg;
        let hb = Duration::from_millis(cfg.heartbeat_ms);
        let rank = cfg.peers.iter().position(|p| p.0 == cfg.id).unwrap_or(0) as u64;
        let timeout = Duration::from_millis(cfg.election_timeout_ms + rank * cfg.heartbeat_ms * 2);
        let probe_timeout = Duration::from_millis((cfg.heartbeat_ms * 3).max(200));
        loop {
            tokio::time::sleep(hb).await;
            {
                let st = self.lock();
                if st.role == Role::Leader || st.last_contact.elapsed() < timeout {
                    continue;
                }
            }
            let mut set = tokio::task::JoinSet::new();
            for p in self.ctx.peers.clone() {
                set.spawn(async move {
                    (
                        p.name.clone(),
                        p.call::<Req, Resp>(&Req::Probe, probe_timeout).await,
                    )
                });
            }
            let mut seen = Vec::new();
            while let Some(r) = set.join_next().await {
                if let Ok((
                    name,
                    Ok(Resp::Probe {
                        term,
                        leader_role,
                        leader,
                        last_index,
                        last_term,
                    }),
                )) = r
                {
                    seen.push((name, term, leader_role, leader, last_index, last_term));
                }
            }
            let mut st = self.lock();
            if st.role == Role::Leader || st.last_contact.elapsed() < timeout {
                continue;
            }
            if let Some(l) = seen.iter().find(|s| s.2 && s.1 >= st.term) {
                // A primary is alive; wait for its heartbeats.
                st.leader = Some(l.0.clone());
                st.last_contact = Instant::now();
                continue;
            }
            let total = cfg.peers.len();
            if (seen.len() + 1) * 2 <= total {
                continue; // no majority reachable: stay a follower
            }
            let (my_last, my_term) = st.last();
            let me = cfg.id.clone();
            let best = seen
                .iter()
                .map(|s| (s.5, s.4, std::cmp::Reverse(s.0.clone())))
                .chain(std::iter::once((
                    my_term,
                    my_last,
                    std::cmp::Reverse(me.clone()),
                )))
                .max()
                .map(|b| b.2 .0);
            if best.as_deref() != Some(me.as_str()) {
                st.last_contact = Instant::now();
                continue;
            }
            let term = seen
                .iter()
                .map(|s| s.1)
                .chain(std::iter::once(st.term))
                .max()
                .unwrap_or(0)
                + 1;
            st.role = Role::Leader;
            st.term = term;
            st.leader = Some(me.clone());
            st.matched.clear();
            eprintln!("{me}: promoted to primary for term {term} at log index {my_last}");
            let m = st.meta();
            drop(st);
            self.save_meta(&m);
            self.appended.send_modify(|v| *v += 1);
        }
    }
}
