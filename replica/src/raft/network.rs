//! openraft's network over the peer RPC. Transport failures are `Unreachable`, so openraft backs
//! off; a remote raft error comes back as `RemoteError`.

use super::{NodeId, RaftReq, RaftResp, TypeConfig};
use crate::node::Ctx;
use crate::peer::{PeerClient, RpcError};
use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::BasicNode;
use std::sync::Arc;
use std::time::Duration;

pub struct Net {
    pub ctx: Arc<Ctx>,
}

pub struct Conn {
    target: NodeId,
    client: Option<Arc<PeerClient>>,
}

impl RaftNetworkFactory<TypeConfig> for Net {
    type Network = Conn;
    async fn new_client(&mut self, target: NodeId, _node: &BasicNode) -> Conn {
        let name = self
            .ctx
            .cfg
            .peers
            .get(target as usize - 1)
            .map(|p| p.0.clone())
            .unwrap_or_default();
        Conn {
            target,
            client: self.ctx.peer(&name).cloned(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Msg(String);

impl Conn {
    async fn send<E>(
        &self,
        req: RaftReq,
        opt: &RPCOption,
    ) -> Result<RaftResp, RPCError<NodeId, BasicNode, E>>
    where
        E: std::error::Error,
    {
        let Some(c) = &self.client else {
            return Err(RPCError::Unreachable(Unreachable::new(&Msg(format!(
                "no peer {}",
                self.target
            )))));
        };
        let timeout = opt.hard_ttl().max(Duration::from_millis(50));
        match c.call::<RaftReq, RaftResp>(&req, timeout).await {
            Ok(r) => Ok(r),
            Err(e @ (RpcError::Unreachable(..) | RpcError::Isolated)) => {
                Err(RPCError::Unreachable(Unreachable::new(&Msg(e.to_string()))))
            }
            Err(e) => Err(RPCError::Network(NetworkError::new(&Msg(e.to_string())))),
        }
    }
}

fn bad<E: std::error::Error>() -> RPCError<NodeId, BasicNode, E> {
    RPCError::Network(NetworkError::new(&Msg("mismatched raft reply".into())))
}

impl RaftNetwork<TypeConfig> for Conn {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        match self.send(RaftReq::Append(rpc), &option).await? {
            RaftResp::Append(Ok(r)) => Ok(r),
            RaftResp::Append(Err(e)) => {
                Err(RPCError::RemoteError(RemoteError::new(self.target, e)))
            }
            _ => Err(bad()),
        }
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, BasicNode, RaftError<NodeId, InstallSnapshotError>>,
    > {
        match self.send(RaftReq::Snapshot(rpc), &option).await? {
            RaftResp::Snapshot(Ok(r)) => Ok(r),
            RaftResp::Snapshot(Err(e)) => {
                Err(RPCError::RemoteError(RemoteError::new(self.target, e)))
            }
            _ => Err(bad()),
        }
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        match self.send(RaftReq::Vote(rpc), &option).await? {
            RaftResp::Vote(Ok(r)) => Ok(r),
            RaftResp::Vote(Err(e)) => Err(RPCError::RemoteError(RemoteError::new(self.target, e))),
            _ => Err(bad()),
        }
    }
}
