//! Structured round trip: arbitrary well-formed histories (any strings, values, processes,
//! times, extra fields) written as JSONL and as Jepsen EDN read back as the same history.
//! Finds writer/reader disagreements that text fuzzing rarely builds.
#![no_main]
use arbitrary::{Result, Unstructured};
use faultline_core::{HistoryBuilder, Op, OpType, Process, Value};
use faultline_fuzz::*;
use libfuzzer_sys::fuzz_target;

const NAMED: [&str; 8] = [
    "index", "time", "type", "process", "f", "value", "node", "error",
];

fn value(u: &mut Unstructured, depth: u32) -> Result<Value> {
    let pick = if depth == 0 {
        u.int_in_range(0..=4)?
    } else {
        u.int_in_range(0..=6)?
    };
    Ok(match pick {
        0 => Value::Nil,
        1 => Value::Bool(u.arbitrary()?),
        2 => Value::Int(u.arbitrary()?),
        3 => Value::Float(u.arbitrary()?),
        4 => Value::Str(u.arbitrary()?),
        5 => {
            let n = u.int_in_range(0..=4)?;
            Value::List((0..n).map(|_| value(u, depth - 1)).collect::<Result<_>>()?)
        }
        _ => {
            let n = u.int_in_range(0..=3)?;
            let mut pairs = Vec::new();
            for _ in 0..n {
                pairs.push((value(u, depth - 1)?, value(u, depth - 1)?));
            }
            Value::Map(pairs)
        }
    })
}

fn op(u: &mut Unstructured, process: Process, kind: OpType) -> Result<Op> {
    let mut op = Op::invoke(0, u.arbitrary::<String>()?, value(u, 3)?);
    op.process = process;
    op.kind = kind;
    // Times and client processes are Java longs (at most 2^63-1), as the readers require.
    op.time = u.int_in_range(0..=i64::MAX as u64)?;
    op.node = u.arbitrary()?;
    op.error = if u.arbitrary()? {
        Some(value(u, 2)?)
    } else {
        None
    };
    // JSONL and EDN read `error: nil` as no error.
    if op.error == Some(Value::Nil) {
        op.error = None;
    }
    for _ in 0..u.int_in_range(0..=2)? {
        let k: String = u.arbitrary()?;
        if !NAMED.contains(&k.as_str()) {
            op.extra.insert(k, value(u, 2)?);
        }
    }
    Ok(op)
}

fn history(u: &mut Unstructured) -> Result<Vec<Op>> {
    let procs: Vec<Process> = (0..u.int_in_range(1..=4)?)
        .map(|_| {
            Ok(if u.ratio(1, 6)? {
                Process::Nemesis
            } else {
                Process::Client(u.int_in_range(0..=i64::MAX as u64)?)
            })
        })
        .collect::<Result<_>>()?;
    let mut b = HistoryBuilder::new();
    let mut open = vec![false; procs.len()];
    for _ in 0..u.int_in_range(0..=12)? {
        let i = u.choose_index(procs.len())?;
        let kind = if open[i] {
            *u.choose(&[OpType::Ok, OpType::Fail, OpType::Info])?
        } else {
            OpType::Invoke
        };
        let mut o = op(u, procs[i], kind)?;
        o.index = b.len() as u64;
        if b.push(o).is_ok() {
            open[i] = kind == OpType::Invoke;
        }
    }
    Ok(b.finish().into_ops())
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(ops) = history(&mut u) else { return };
    assert_jsonl_round_trip(&ops);
    assert_edn_round_trip(&ops);
});
