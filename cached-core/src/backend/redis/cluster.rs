//! Redis Cluster: which primary serves each slot (from `CLUSTER SLOTS`), and the slot of a
//! key, so that each call goes through the circuit of the node that serves it and scans
//! visit every primary.

use redis::Value;

/// The number of hash slots of a Redis Cluster.
pub(super) const SLOTS: usize = 16_384;

/// The slot of `key`: CRC16 (XMODEM) of its hash tag (the text between its first `{` and the
/// next `}`, when not empty) or of the whole key, modulo 16,384, as Redis computes it.
pub(super) fn slot(key: &[u8]) -> u16 {
    let tagged = key.iter().position(|&b| b == b'{').and_then(|open| {
        let rest = &key[open + 1..];
        let close = rest.iter().position(|&b| b == b'}')?;
        (close > 0).then(|| &rest[..close])
    });
    crc16::State::<crc16::XMODEM>::calculate(tagged.unwrap_or(key)) % SLOTS as u16
}

/// Which primary serves each slot.
pub(super) struct SlotMap {
    /// For each slot, an index into `nodes`, or `NONE` when no primary serves it.
    owners: Box<[u16]>,
    /// The primaries' addresses, `host:port`.
    nodes: Vec<String>,
}

const NONE: u16 = u16::MAX;

impl SlotMap {
    /// The map in a `CLUSTER SLOTS` reply: `[[start, end, [host, port, id, ..], replicas..],
    /// ..]`.
    pub(super) fn parse(reply: Value) -> Result<Self, String> {
        let malformed = || "unexpected CLUSTER SLOTS reply".to_owned();
        let Value::Array(ranges) = reply else {
            return Err(malformed());
        };
        let mut owners = vec![NONE; SLOTS].into_boxed_slice();
        let mut nodes: Vec<String> = Vec::new();
        for range in ranges {
            let Value::Array(fields) = range else {
                return Err(malformed());
            };
            let (Some(Value::Int(start)), Some(Value::Int(end)), Some(Value::Array(primary))) =
                (fields.first(), fields.get(1), fields.get(2))
            else {
                return Err(malformed());
            };
            let host = match primary.first() {
                Some(Value::BulkString(host)) => String::from_utf8_lossy(host).into_owned(),
                Some(Value::SimpleString(host)) => host.clone(),
                _ => return Err(malformed()),
            };
            let Some(Value::Int(port)) = primary.get(1) else {
                return Err(malformed());
            };
            let address = format!("{host}:{port}");
            let index = match nodes.iter().position(|node| *node == address) {
                Some(index) => index,
                None => {
                    nodes.push(address);
                    nodes.len() - 1
                }
            };
            let (start, end) = (usize::try_from(*start), usize::try_from(*end));
            let (Ok(start), Ok(end)) = (start, end) else {
                return Err(malformed());
            };
            if start > end || end >= SLOTS {
                return Err(malformed());
            }
            owners[start..=end].fill(index as u16);
        }
        Ok(Self { owners, nodes })
    }

    /// The index (in [`nodes`](SlotMap::nodes)) of the primary serving `slot`, if the map
    /// knows one.
    pub(super) fn owner(&self, slot: u16) -> Option<usize> {
        let index = usize::from(*self.owners.get(usize::from(slot))?);
        (index < self.nodes.len()).then_some(index)
    }

    /// The address of the primary serving `slot`, if the map knows one.
    #[cfg(test)]
    fn node(&self, slot: u16) -> Option<&str> {
        self.owner(slot).map(|index| self.nodes[index].as_str())
    }

    /// The primaries' addresses, `host:port`, each serving at least one slot.
    pub(super) fn nodes(&self) -> &[String] {
        &self.nodes
    }

    /// Each primary with one slot it serves (through which redis-rs routes to it).
    pub(super) fn primaries(&self) -> Vec<(&str, u16)> {
        self.nodes
            .iter()
            .enumerate()
            .filter_map(|(index, node)| {
                let slot = self
                    .owners
                    .iter()
                    .position(|&owner| usize::from(owner) == index)?;
                Some((node.as_str(), slot as u16))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_redis_own() {
        // The values `CLUSTER KEYSLOT` gives.
        assert_eq!(slot(b"foo"), 12_182);
        assert_eq!(slot(b"bar"), 5_061);
        assert_eq!(slot(b"hello"), 866);
        assert_eq!(slot(b"{user1000}.following"), slot(b"user1000"));
        assert_eq!(
            slot(b"foo{}{bar}"),
            slot(b"foo{}{bar}"),
            "an empty tag: the whole key"
        );
        assert_ne!(slot(b"foo{}{bar}"), slot(b"bar"));
        assert_eq!(slot(b"foo{{bar}}zap"), slot(b"{bar"));
    }

    #[test]
    fn a_slot_map_names_the_primary_of_each_slot() {
        let node = |port: i64| {
            Value::Array(vec![
                Value::BulkString(b"127.0.0.1".to_vec()),
                Value::Int(port),
                Value::BulkString(format!("id{port}").into_bytes()),
            ])
        };
        let range = |start: i64, end: i64, primary: Value| {
            Value::Array(vec![Value::Int(start), Value::Int(end), primary])
        };
        let map = SlotMap::parse(Value::Array(vec![
            range(0, 5460, node(7000)),
            range(5461, 10922, node(7001)),
            range(10923, 12000, node(7002)),
            range(12001, 16383, node(7000)),
        ]))
        .unwrap();
        assert_eq!(map.node(0), Some("127.0.0.1:7000"));
        assert_eq!(map.node(5461), Some("127.0.0.1:7001"));
        assert_eq!(map.node(12_001), Some("127.0.0.1:7000"));
        assert_eq!(
            map.primaries(),
            [
                ("127.0.0.1:7000", 0),
                ("127.0.0.1:7001", 5461),
                ("127.0.0.1:7002", 10923)
            ]
        );
        assert!(SlotMap::parse(Value::Nil).is_err());
        let partial = SlotMap::parse(Value::Array(vec![range(0, 10, node(7000))])).unwrap();
        assert_eq!(partial.node(11), None);
    }
}
