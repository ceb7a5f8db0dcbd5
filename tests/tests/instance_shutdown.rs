//! A stopping instance closes its streams with 1001 ("going away") before
//! it returns, so a process that exits right after (the binary on Ctrl-C)
//! does not drop them without a close frame (issue 29's protocol gaps).

// Test code: a panic is how a failed expectation reports itself.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use belfry_tests::{Api, Ended, OPERATOR, Stream, TestInstance};

#[test]
fn streams_get_1001_before_the_instance_has_stopped() {
    let (url_tx, url_rx) = std::sync::mpsc::channel();
    let (go_tx, go_rx) = tokio::sync::oneshot::channel::<()>();
    // The instance in a runtime of its own, dropped as soon as stop()
    // returns: what the process exiting does to whatever is still running.
    let server = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let t = TestInstance::start().await;
            url_tx.send(t.url().to_owned()).unwrap();
            go_rx.await.unwrap();
            t.instance.stop().await.unwrap();
        });
        drop(rt);
    });
    let url = url_rx.recv().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let api = Api::login(&url, OPERATOR.0, OPERATOR.1).await;
        let (mut a, _) = Stream::connect(&url, &api.token, None).await;
        let (mut b, _) = Stream::connect(&url, &api.token, None).await;
        go_tx.send(()).unwrap();
        let (a, b) = tokio::join!(a.closed(), b.closed());
        assert_eq!(a, Ended::Close(1001));
        assert_eq!(b, Ended::Close(1001));
    });
    server.join().unwrap();
}
