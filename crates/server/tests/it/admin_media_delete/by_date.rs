//! Delete by date and size: `POST /_synapse/admin/v1/media/delete` and the legacy
//! `POST /_synapse/admin/v1/media/{server}/delete` (reference §1.12, §3.2).

use mxcd_types::time::now_ms;
use serde_json::json;

use super::{bytes_of, call, count, download_status, exec};
use crate::{
    harness::{Backend, TestServer, enc},
    media::{create_pending, upload},
    rooms::{V3, create_room},
};

crate::backend_tests!(
    delete_by_date_parameters,
    delete_by_date_age_and_size,
    delete_by_date_exclusions,
    delete_by_date_keeps_avatars,
);

async fn delete_by_date_parameters(b: Backend) {
    let s = TestServer::start(b).await;
    let (_, admin) = s.register("root", "pw", true).await;
    let now = now_ms();
    for base in [
        "/_synapse/admin/v1/media/delete",
        "/_synapse/admin/v1/media/test.local/delete",
    ] {
        let post = |q: String| {
            let (s, admin) = (&s, &admin);
            async move { call(s, "POST", &format!("{base}{q}"), Some(admin)).await }
        };
        let r = post(String::new()).await;
        assert_eq!(
            r.err(400, "M_MISSING_PARAM"),
            "Missing required integer query parameter before_ts"
        );
        let r = post("?before_ts=-1234".into()).await;
        assert_eq!(
            r.err(400, "M_INVALID_PARAM"),
            "Query parameter before_ts must be a positive integer."
        );
        let r = post("?before_ts=abc".into()).await;
        assert_eq!(
            r.err(400, "M_INVALID_PARAM"),
            "Query parameter before_ts must be an integer"
        );
        let r = post("?before_ts=99999999999999999999999".into()).await;
        r.err(400, "M_INVALID_PARAM");
        for ts in ["1893456000", "0"] {
            let r = post(format!("?before_ts={ts}")).await;
            let msg = r.err(400, "M_INVALID_PARAM");
            assert!(msg.contains("is from the year 1970. Double check"), "{msg}");
        }
        let r = post(format!("?before_ts={now}&size_gt=-1234")).await;
        assert_eq!(
            r.err(400, "M_INVALID_PARAM"),
            "Query parameter size_gt must be a positive integer."
        );
        let r = post(format!("?before_ts={now}&keep_profiles=not_bool")).await;
        assert_eq!(
            r.err(400, "M_INVALID_PARAM"),
            "Boolean query parameter 'keep_profiles' must be one of ['true', 'false']"
        );
    }
    // Legacy path, foreign server: the parameters are checked first, then the server.
    let legacy = "/_synapse/admin/v1/media/unknown_domain/delete";
    let r = call(&s, "POST", legacy, Some(&admin)).await;
    r.err(400, "M_MISSING_PARAM");
    let r = call(
        &s,
        "POST",
        &format!("{legacy}?before_ts={now}"),
        Some(&admin),
    )
    .await;
    assert_eq!(r.err(400, "M_UNKNOWN"), "Can only delete local media");
}

async fn delete_by_date_age_and_size(b: Backend) {
    let s = TestServer::start(b).await;
    let (_, admin) = s.register("root", "pw", true).await;
    let del = |q: String| {
        let (s, admin) = (&s, &admin);
        async move {
            let r = call(
                s,
                "POST",
                &format!("/_synapse/admin/v1/media/delete?{q}"),
                Some(admin),
            )
            .await;
            r.ok().clone()
        }
    };
    let before_upload = now_ms() - 1;
    let a = upload(&s, &admin, bytes_of(67, b'a'), "text/plain", "").await;
    // Taken before the upload: nothing.
    assert_eq!(
        del(format!("before_ts={before_upload}")).await,
        json!({"deleted_media": [], "total": 0})
    );
    // 67 bytes: size_gt=67 keeps it, 66 deletes it.
    let now = now_ms() + 1;
    assert_eq!(del(format!("before_ts={now}&size_gt=67")).await["total"], 0);
    assert_eq!(
        del(format!("before_ts={now}&size_gt=66")).await,
        json!({"deleted_media": [a], "total": 1})
    );
    assert_eq!(download_status(&s, &admin, &a).await, 404);

    // Accessed after before_ts: kept; before_ts after the access: deleted. Strict bound.
    let c = upload(&s, &admin, bytes_of(10, b'c'), "text/plain", "").await;
    exec(&s, format!("UPDATE media SET created_ts = 1000, last_access_ts = 40000000000 WHERE media_id = '{c}'")).await;
    assert_eq!(
        del("before_ts=40000000000".into()).await["total"],
        0,
        "equal is kept"
    );
    assert_eq!(
        del("before_ts=40000000001".into()).await["deleted_media"],
        json!([c])
    );
    // Never accessed: judged by created_ts, on the legacy path too.
    let d = upload(&s, &admin, bytes_of(10, b'd'), "text/plain", "").await;
    let r = call(
        &s,
        "POST",
        &format!(
            "/_synapse/admin/v1/media/test.local/delete?before_ts={}",
            now_ms() + 1
        ),
        Some(&admin),
    )
    .await;
    assert_eq!(r.ok(), &json!({"deleted_media": [d], "total": 1}));
}

async fn delete_by_date_exclusions(b: Backend) {
    let s = TestServer::start(b).await;
    let (admin_id, admin) = s.register("root", "pw", true).await;
    let q = upload(&s, &admin, bytes_of(5, b'q'), "text/plain", "").await;
    let p = upload(&s, &admin, bytes_of(5, b'p'), "text/plain", "").await;
    let empty = upload(&s, &admin, b"", "text/plain", "").await;
    exec(
        &s,
        format!("UPDATE media SET quarantined_by = '{admin_id}' WHERE media_id = '{q}'"),
    )
    .await;
    exec(
        &s,
        format!("UPDATE media SET safe_from_quarantine = TRUE WHERE media_id = '{p}'"),
    )
    .await;
    let pending = create_pending(&s, &admin).await;
    let path = format!(
        "/_synapse/admin/v1/media/delete?before_ts={}&keep_profiles=false",
        now_ms() + 1
    );
    let r = call(&s, "POST", &path, Some(&admin)).await;
    assert_eq!(r.ok(), &json!({"deleted_media": [], "total": 0}));
    for id in [&q, &p, &empty, &pending] {
        assert_eq!(
            count(
                &s,
                format!("SELECT COUNT(*) FROM media WHERE media_id = '{id}'")
            )
            .await,
            1,
            "{id}"
        );
    }
}

async fn delete_by_date_keeps_avatars(b: Backend) {
    let s = TestServer::start(b).await;
    let (admin_id, admin) = s.register("root", "pw", true).await;
    let profile = upload(&s, &admin, bytes_of(5, b'1'), "text/plain", "").await;
    let room_avatar = upload(&s, &admin, bytes_of(5, b'2'), "text/plain", "").await;
    let member = upload(&s, &admin, bytes_of(5, b'3'), "text/plain", "").await;
    let plain = upload(&s, &admin, bytes_of(5, b'4'), "text/plain", "").await;
    // A membership avatar that is no longer current: the member event that carried it stays.
    s.put(
        &format!("{V3}/profile/{}/avatar_url", enc(&admin_id)),
        Some(&admin),
        json!({"avatar_url": format!("mxc://test.local/{member}")}),
    )
    .await
    .ok();
    let room = create_room(&s, &admin, json!({"initial_state": [{"type": "m.room.avatar", "state_key": "", "content": {"url": format!("mxc://test.local/{room_avatar}")}}]})).await;
    let me = enc(&admin_id);
    let r = s
        .put(
            &format!("{V3}/rooms/{}/state/m.room.member/{me}", enc(&room)),
            Some(&admin),
            json!({"membership": "join", "avatar_url": format!("mxc://test.local/{member}")}),
        )
        .await;
    r.ok();
    s.put(
        &format!("{V3}/rooms/{}/state/m.room.member/{me}", enc(&room)),
        Some(&admin),
        json!({"membership": "join"}),
    )
    .await
    .ok();
    s.put(
        &format!("{V3}/profile/{me}/avatar_url"),
        Some(&admin),
        json!({"avatar_url": format!("mxc://test.local/{profile}")}),
    )
    .await
    .ok();
    let ts = now_ms() + 1;
    let kept = call(
        &s,
        "POST",
        &format!("/_synapse/admin/v1/media/delete?before_ts={ts}"),
        Some(&admin),
    )
    .await;
    assert_eq!(
        kept.ok(),
        &json!({"deleted_media": [plain], "total": 1}),
        "keep_profiles defaults to true"
    );
    let r = call(
        &s,
        "POST",
        &format!("/_synapse/admin/v1/media/delete?before_ts={ts}&keep_profiles=true"),
        Some(&admin),
    )
    .await;
    assert_eq!(r.ok()["total"], 0);
    let r = call(
        &s,
        "POST",
        &format!("/_synapse/admin/v1/media/delete?before_ts={ts}&keep_profiles=false"),
        Some(&admin),
    )
    .await;
    let mut got: Vec<String> = serde_json::from_value(r.ok()["deleted_media"].clone()).unwrap();
    got.sort();
    let mut want = vec![profile, room_avatar, member];
    want.sort();
    assert_eq!(got, want);
}
