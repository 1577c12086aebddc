//! Server reflection, v1 and v1alpha (grpcurl 1.8 asks v1alpha).

use tokio_stream::StreamExt;
use tonic_reflection::pb::{v1, v1alpha};

use crate::common::Env;

const SERVED: [&str; 11] = [
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
    "rmw.v1.AdminService",
    "rmw.v1.CountersService",
    "rmw.v1.InventoryService",
    "rmw.v1.LeasesService",
    "rmw.v1.LedgerService",
    "rmw.v1.RecordsService",
    "rmw.v1.SequencesService",
    "rmw.v1.ValuesService",
];

/// Both versions list exactly the served services, and describe them.
#[tokio::test]
async fn both_versions_list_the_served_services() {
    let env = Env::start().await;

    let mut client =
        v1::server_reflection_client::ServerReflectionClient::new(env.service.channel.clone());
    let request = v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(v1::server_reflection_request::MessageRequest::ListServices(
            String::new(),
        )),
    };
    let mut replies = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let Some(Ok(reply)) = replies.next().await else {
        panic!("no v1 reply")
    };
    let Some(v1::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        reply.message_response
    else {
        panic!("not a service list")
    };
    let mut names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    names.sort();
    assert_eq!(names, SERVED);

    let mut client =
        v1alpha::server_reflection_client::ServerReflectionClient::new(env.service.channel.clone());
    let request = v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            v1alpha::server_reflection_request::MessageRequest::FileContainingSymbol(
                "rmw.v1.ValuesService".into(),
            ),
        ),
    };
    let mut replies = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let Some(Ok(reply)) = replies.next().await else {
        panic!("no v1alpha reply")
    };
    let Some(v1alpha::server_reflection_response::MessageResponse::FileDescriptorResponse(files)) =
        reply.message_response
    else {
        panic!("not a descriptor")
    };
    assert!(!files.file_descriptor_proto.is_empty());
}
