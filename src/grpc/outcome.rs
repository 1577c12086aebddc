//! The business outcome of each reply (the `oneof outcome` variant), as
//! the per-RPC layer labels metrics and spans with it.

use tonic::Response;

use crate::proto::v1 as pb;

/// A reply's outcome, carried to the layer in the response's extensions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome(pub &'static str);

/// A response that names its outcome.
pub trait Named {
    /// The outcome, in snake case (`swapped`, `insufficient_stock`…).
    fn outcome(&self) -> &'static str;
}

/// `message` as a reply, its outcome attached.
pub fn reply<T: Named>(message: T) -> Response<T> {
    let outcome = Outcome(message.outcome());
    let mut response = Response::new(message);
    response.extensions_mut().insert(outcome);
    response
}

macro_rules! outcomes {
    ($($response:ident => $module:ident { $($variant:ident => $name:literal),+ $(,)? })*) => {$(
        impl Named for pb::$response {
            fn outcome(&self) -> &'static str {
                match &self.outcome {
                    $(Some(pb::$module::Outcome::$variant(_)) => $name,)+
                    None => "none",
                }
            }
        }
    )*};
}

macro_rules! reads {
    ($($response:ident),* $(,)?) => {$(
        impl Named for pb::$response {
            fn outcome(&self) -> &'static str {
                "read"
            }
        }
    )*};
}

outcomes! {
    GetValueResponse => get_value_response { Value => "found", NotFound => "not_found" }
    CompareAndSwapResponse => compare_and_swap_response { Swapped => "swapped", Conflict => "conflict" }
    ConditionalUpdateResponse => conditional_update_response { Applied => "applied", Failed => "failed" }
    PutRecordResponse => put_record_response { Written => "written", VersionMismatch => "version_mismatch" }
    DeleteRecordResponse => delete_record_response { Deleted => "deleted", VersionMismatch => "version_mismatch" }
    SetStockResponse => set_stock_response { Set => "set" }
    RestockResponse => restock_response { Restocked => "restocked" }
    DeductResponse => deduct_response {
        Deducted => "deducted", InsufficientStock => "insufficient_stock", Cancelled => "cancelled"
    }
    PlaceOrderResponse => place_order_response {
        Placed => "placed", InsufficientStock => "insufficient_stock", Cancelled => "cancelled"
    }
    CancelOrderResponse => cancel_order_response {
        Cancelled => "cancelled", NotFound => "not_found", AlreadyCancelled => "already_cancelled"
    }
    AdjustCounterResponse => adjust_counter_response { Adjusted => "adjusted", OutOfBounds => "out_of_bounds" }
    ConsumeQuotaResponse => consume_quota_response { Consumed => "consumed", LimitExceeded => "limit_exceeded" }
    CreditResponse => credit_response { Posted => "posted" }
    DebitResponse => debit_response { Posted => "posted", InsufficientFunds => "insufficient_funds" }
    TransferResponse => transfer_response { Transferred => "transferred", InsufficientFunds => "insufficient_funds" }
    NextIdsResponse => next_ids_response { Issued => "issued" }
    ReturnIdsResponse => return_ids_response { Returned => "returned" }
}

reads! {
    GetRecordResponse,
    GetStockResponse,
    ListMovementsResponse,
    GetCounterResponse,
    GetQuotaResponse,
    GetBalancesResponse,
    ListEntriesResponse,
    GetSequenceResponse,
    GetScriptStatusResponse,
}
