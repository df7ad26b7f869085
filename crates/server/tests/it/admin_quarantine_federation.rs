//! Quarantine across federation, with two mxcd instances: a remote fetch of bytes whose hash
//! is quarantined here is recorded quarantined (beyond Synapse), hash-wide unquarantine
//! releases the cached copy, and quarantined local media is 404 to other servers.

use mxcd_server::services::federation::SigningKey;

use crate::{
    admin_quarantine::{PHOTO, V1, admin_post},
    federation::start_federating,
    harness::{Backend, TestServer},
    media::fetch,
};

crate::backend_tests!(quarantine_reaches_federation);

/// Uploads `bytes` and returns the media ID (any server name).
async fn upload(s: &TestServer, tok: &str, bytes: &'static [u8]) -> String {
    let r = s
        .client
        .post(format!("{}/_matrix/media/v3/upload", s.base))
        .bearer_auth(tok)
        .header("content-type", "image/jpeg")
        .body(bytes)
        .send()
        .await
        .unwrap();
    let r = TestServer::read(r).await;
    let uri = r.ok()["content_uri"].as_str().unwrap().to_owned();
    uri.rsplit('/').next().unwrap().to_owned()
}

async fn quarantine_reaches_federation(b: Backend) {
    let (remote, b_name) = start_federating(b.clone(), |_| {}).await;
    let (local, a_name) = start_federating(b, |_| {}).await;
    let (_, b_tok) = remote.register("bob", "pw", false).await;
    let (_, admin) = local.register("admin", "pw", true).await;

    // A quarantines its own copy of the photo: the hash is recorded.
    let mine = upload(&local, &admin, PHOTO).await;
    let enc_a = a_name.replace(':', "%3A");
    admin_post(&local, &admin, &format!("/media/quarantine/{enc_a}/{mine}")).await;

    // The same bytes on B, fetched by A: recorded quarantined by "system", so 404.
    let theirs = upload(&remote, &b_tok, PHOTO).await;
    let path = format!("/_matrix/client/v1/media/download/{b_name}/{theirs}");
    assert_eq!(fetch(&local, &path, Some(&admin), &[]).await.0, 404);
    assert_eq!(local.running().media().remote_fetches(), 1);
    let info = local
        .get(&format!("{V1}/media/{b_name}/{theirs}"), Some(&admin))
        .await;
    assert_eq!(info.ok()["media_info"]["quarantined_by"], "system");
    assert_eq!(info.body["media_info"]["media_origin"], b_name.as_str());
    // Still served by B itself.
    assert_eq!(fetch(&remote, &path, Some(&b_tok), &[]).await.0, 200);

    // Quarantined local media is 404 to other servers too (download and thumbnail).
    let key = SigningKey::load(&remote.cfg.data_dir.join("signing.key")).unwrap();
    let tls = reqwest::Client::builder()
        .tls_danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    for fed in [
        format!("/_matrix/federation/v1/media/download/{mine}"),
        format!("/_matrix/federation/v1/media/thumbnail/{mine}?width=32&height=32"),
    ] {
        let auth = key
            .x_matrix(&b_name, &a_name, &http::Method::GET, &fed, b"")
            .unwrap();
        let r = tls
            .get(format!("https://{a_name}{fed}"))
            .header("authorization", auth)
            .send()
            .await
            .unwrap();
        let r = TestServer::read(r).await;
        r.err(404, "M_NOT_FOUND");
    }

    // Unquarantining A's copy releases the cached remote copy with the same hash, at once.
    admin_post(
        &local,
        &admin,
        &format!("/media/unquarantine/{enc_a}/{mine}"),
    )
    .await;
    let (status, _, body) = fetch(&local, &path, Some(&admin), &[]).await;
    assert_eq!((status.as_u16(), &body[..]), (200, PHOTO));
    assert_eq!(
        local.running().media().remote_fetches(),
        1,
        "served from the cache"
    );
}
