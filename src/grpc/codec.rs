//! The protobuf codec of every `rmw.v1` service (`build.rs` names it):
//! prost's encoder, and prost's decoding with one difference. A request
//! that does not decode (a string field holding invalid UTF-8, a truncated
//! message) is the caller's mistake, so it is INVALID_ARGUMENT with a
//! `BadRequest` naming the field where prost knows it — not the INTERNAL
//! that tonic's codec answers for every decode failure.
//!
//! The generated clients (used by tests and the benchmark) share it: to
//! them a reply that does not decode reads INVALID_ARGUMENT too.

use std::marker::PhantomData;

use prost::{DecodeError, Message};
use tonic::{
    Status,
    codec::{DecodeBuf, Decoder},
};
use tonic_prost::ProstEncoder;

use crate::error::Error;

/// prost's codec, reading decode failures as the caller's.
#[derive(Debug, Clone)]
pub struct Codec<T, U>(PhantomData<(T, U)>);

impl<T, U> Default for Codec<T, U> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<T, U> tonic::codec::Codec for Codec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = RequestDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstEncoder::default()
    }

    fn decoder(&mut self) -> Self::Decoder {
        RequestDecoder(PhantomData)
    }
}

/// Decodes `U`; a failure is INVALID_ARGUMENT.
#[derive(Debug, Clone)]
pub struct RequestDecoder<U>(PhantomData<U>);

impl<U: Message + Default> Decoder for RequestDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        U::decode(buf)
            .map(Some)
            .map_err(|error| malformed(&error).into())
    }
}

/// The error for a message that does not decode.
fn malformed(error: &DecodeError) -> Error {
    let (field, description) = field_of(error);
    Error::invalid(field, format!("does not decode: {description}"))
}

/// The field a decode error names, as a path from the request (`items.product`),
/// and what is wrong. prost spells its error
/// `failed to decode Protobuf message: Inner.field: Outer.items: <what>`,
/// innermost first; an error of the message as a whole has no field.
fn field_of(error: &DecodeError) -> (String, String) {
    let text = error.to_string();
    let rest = text
        .strip_prefix("failed to decode Protobuf message: ")
        .unwrap_or(&text);
    let mut path = Vec::new();
    let mut description = rest;
    while let Some((head, tail)) = description.split_once(": ") {
        let Some((message, field)) = head.split_once('.') else {
            break;
        };
        let is_name =
            |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !is_name(message) || !is_name(field) {
            break;
        }
        path.push(field);
        description = tail;
    }
    path.reverse();
    (path.join("."), description.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::v1 as pb;

    fn decode<U: Message + Default + std::fmt::Debug>(bytes: &[u8]) -> (String, String) {
        field_of(&U::decode(bytes).expect_err("malformed"))
    }

    /// A top-level string field with invalid UTF-8 is named by its field.
    #[test]
    fn names_a_top_level_field() {
        // Field 1 (store), length 2, bytes that are not UTF-8.
        let (field, description) = decode::<pb::PlaceOrderRequest>(&[0x0a, 0x02, 0xff, 0xfe]);
        assert_eq!(field, "store");
        assert!(description.contains("UTF-8"), "{description}");
    }

    /// A field of a nested message is named by its path.
    #[test]
    fn names_a_nested_field() {
        // items (3) = OrderItem { product (1) = 0xff }.
        let (field, _) = decode::<pb::PlaceOrderRequest>(&[0x1a, 0x03, 0x0a, 0x01, 0xff]);
        assert_eq!(field, "items.product");
    }

    /// A truncated field is named; a wire type that does not exist has no
    /// field. Both read INVALID_ARGUMENT.
    #[test]
    fn truncated_and_unknown_wire_types_are_invalid_argument() {
        let (field, _) = decode::<pb::PlaceOrderRequest>(&[0x0a, 0x05, b'a']);
        assert_eq!(field, "store");
        let error = pb::PlaceOrderRequest::decode(&[0x0f][..]).expect_err("wire type 7");
        let (field, description) = field_of(&error);
        assert_eq!(field, "");
        assert!(description.contains("wire type"), "{description}");
        let status = Status::from(malformed(&error));
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
    }
}
