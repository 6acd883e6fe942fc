//! README command 1 (`cargo run`, the demo) plays the example stack with every response SUCCESS.

#[tokio::test]
async fn the_demo_stack_plays_through_with_every_response_success() {
    local_cloud::demo::run().await.expect("the demo stack");
}
