//! ProtoJSON for the API's messages, from the descriptor set the server was
//! compiled from (`proto::FILE_DESCRIPTOR_SET`): the same one that drives
//! code generation and reflection, so what a JSON caller may send is
//! exactly what a gRPC caller may.
//!
//! prost-reflect's serde support writes canonical ProtoJSON (int64 as
//! strings, bytes as base64, enums by name, lowerCamelCase names,
//! well-known types in their JSON forms) and reads it leniently where the
//! spec says to (either field name, int64 as number or string, enum by
//! name or number), refusing unknown fields.

use std::collections::HashMap;

use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, SerializeOptions};

/// Every RPC the HTTP paths serve, by its path (`/rmw.v1.Service/Method`).
#[derive(Debug)]
pub struct Methods {
    by_path: HashMap<String, Method>,
    pool: DescriptorPool,
}

/// One RPC's messages.
#[derive(Clone, Debug)]
pub struct Method {
    input: MessageDescriptor,
    output: MessageDescriptor,
    /// Whether it answers with a stream (a watch).
    pub streaming: bool,
}

impl Methods {
    /// The API's methods, the gRPC health service's, and the descriptors of
    /// `google.rpc` so that error details read as JSON too.
    pub fn load() -> anyhow::Result<Self> {
        let mut pool = DescriptorPool::new();
        for set in [
            crate::proto::FILE_DESCRIPTOR_SET,
            tonic_types::pb::FILE_DESCRIPTOR_SET,
            tonic_health::pb::FILE_DESCRIPTOR_SET,
        ] {
            pool.decode_file_descriptor_set(set)?;
        }
        let by_path = pool
            .services()
            .flat_map(|service| service.methods().collect::<Vec<_>>())
            .filter(|method| !method.is_client_streaming())
            .map(|method| {
                let path = format!("/{}/{}", method.parent_service().full_name(), method.name());
                let method = Method {
                    input: method.input(),
                    output: method.output(),
                    streaming: method.is_server_streaming(),
                };
                (path, method)
            })
            .collect();
        Ok(Self { by_path, pool })
    }

    /// The method served at `path`, if any.
    #[must_use]
    pub fn get(&self, path: &str) -> Option<&Method> {
        self.by_path.get(path)
    }

    /// `value` (an encoded `type_name` message) as ProtoJSON, when the
    /// type is known: the readable form of an error detail.
    #[must_use]
    pub fn detail(&self, type_name: &str, value: &[u8]) -> Option<serde_json::Value> {
        let descriptor = self.pool.get_message_by_name(type_name)?;
        let message = DynamicMessage::decode(descriptor, value).ok()?;
        message
            .serialize_with_options(serde_json::value::Serializer, &SerializeOptions::new())
            .ok()
    }
}

impl Method {
    /// A JSON request body as the encoded protobuf message the handler
    /// reads. An empty body is the empty message, as Connect clients may
    /// send for a request without fields.
    pub fn request_from_json(&self, body: &[u8]) -> Result<Vec<u8>, String> {
        let body = if body.iter().all(u8::is_ascii_whitespace) {
            b"{}".as_slice()
        } else {
            body
        };
        let mut json = serde_json::Deserializer::from_slice(body);
        let message = DynamicMessage::deserialize(self.input.clone(), &mut json)
            .and_then(|message| json.end().map(|()| message))
            .map_err(|error| {
                format!(
                    "the body is not a {} in JSON: {error}",
                    self.input.full_name()
                )
            })?;
        Ok(message.encode_to_vec())
    }

    /// An encoded reply as canonical ProtoJSON.
    pub fn reply_to_json(&self, encoded: &[u8]) -> Result<Vec<u8>, String> {
        let message = DynamicMessage::decode(self.output.clone(), encoded)
            .map_err(|error| format!("the reply does not decode: {error}"))?;
        let mut out = Vec::with_capacity(encoded.len() * 2);
        let mut json = serde_json::Serializer::new(&mut out);
        message
            .serialize_with_options(&mut json, &SerializeOptions::new())
            .map_err(|error| format!("the reply does not encode as JSON: {error}"))?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_api_method_is_known_with_its_messages() {
        let methods = Methods::load().unwrap();
        let cas = methods.get("/rmw.v1.ValuesService/CompareAndSwap").unwrap();
        assert!(!cas.streaming);
        assert_eq!(cas.input.full_name(), "rmw.v1.CompareAndSwapRequest");
        assert!(
            methods
                .get("/rmw.v1.InventoryService/WatchMovements")
                .unwrap()
                .streaming
        );
        assert!(methods.get("/grpc.health.v1.Health/Check").is_some());
        assert!(methods.get("/rmw.v1.ValuesService/Nope").is_none());
    }

    #[test]
    fn json_round_trips_int64_bytes_and_enums() {
        let methods = Methods::load().unwrap();
        let credit = methods.get("/rmw.v1.LedgerService/Credit").unwrap();
        let encoded = credit
            .request_from_json(
                br#"{"book": "eu", "account": "a", "amount": "9223372036854775807"}"#,
            )
            .unwrap();
        let request = crate::proto::v1::CreditRequest::decode(encoded.as_slice()).unwrap();
        assert_eq!(request.amount, i64::MAX);
        // Unknown fields and trailing text are the caller's mistake.
        assert!(credit.request_from_json(br#"{"nope": 1}"#).is_err());
        assert!(credit.request_from_json(b"{} {}").is_err());
        assert!(credit.request_from_json(b"").is_ok());
    }
}
