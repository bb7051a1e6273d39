//! Redis Cluster: the primaries to scan for `delete_pattern` and `clear`, each named by a
//! slot it owns so that redis-rs routes to it whatever its address.

use redis::Value;

/// Where a scan runs.
pub(super) enum Node {
    /// The one server of a non-cluster cache.
    Server,
    /// The cluster primary that owns this slot.
    Slot(u16),
}

/// One slot of each primary, from a `CLUSTER SLOTS` reply: `[[start, end, [host, port,
/// id, ..], replicas..], ..]`.
pub(super) fn cluster_primaries(reply: Value) -> Result<Vec<Node>, String> {
    let malformed = || "unexpected CLUSTER SLOTS reply".to_owned();
    let Value::Array(ranges) = reply else {
        return Err(malformed());
    };
    let mut seen: Vec<Vec<u8>> = Vec::new();
    let mut nodes = Vec::new();
    for range in ranges {
        let Value::Array(fields) = range else {
            return Err(malformed());
        };
        let (Some(Value::Int(start)), Some(Value::Array(primary))) =
            (fields.first(), fields.get(2))
        else {
            return Err(malformed());
        };
        let id = match primary.get(2) {
            Some(Value::BulkString(id)) => id.clone(),
            _ => format!("{:?}", primary.get(..2)).into_bytes(),
        };
        if !seen.contains(&id) {
            seen.push(id);
            nodes.push(Node::Slot(u16::try_from(*start).map_err(|_| malformed())?));
        }
    }
    Ok(nodes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_slot_per_primary() {
        let node = |id: &str, port: i64| {
            Value::Array(vec![
                Value::BulkString(b"127.0.0.1".to_vec()),
                Value::Int(port),
                Value::BulkString(id.as_bytes().to_vec()),
            ])
        };
        let range = |start: i64, end: i64, primary: Value| {
            Value::Array(vec![Value::Int(start), Value::Int(end), primary])
        };
        let reply = Value::Array(vec![
            range(0, 5460, node("a", 7000)),
            range(5461, 10922, node("b", 7001)),
            range(10923, 12000, node("c", 7002)),
            range(12001, 16383, node("a", 7000)),
        ]);
        let slots: Vec<u16> = cluster_primaries(reply)
            .unwrap()
            .into_iter()
            .map(|node| match node {
                Node::Slot(slot) => slot,
                Node::Server => panic!("a cluster has no single server"),
            })
            .collect();
        assert_eq!(slots, [0, 5461, 10923]);
        assert!(cluster_primaries(Value::Nil).is_err());
    }
}
