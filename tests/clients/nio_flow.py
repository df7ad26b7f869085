"""A real matrix-nio client against a running mxcd.

Usage: nio_flow.py BASE_URL ALICE PASSWORD BOB PASSWORD IMAGE THUMBNAIL

Alice logs in, creates a room and invites Bob; Bob accepts through his sync loop
(`sync_forever`, nio's normal loop); Alice uploads an image and its thumbnail and sends an
m.image with info.thumbnail_url; Bob receives it through sync and downloads it with
`AsyncClient.download`, which in matrix-nio 0.26 uses the authenticated endpoint
(/_matrix/client/v1/media/download); Alice sets her avatar and redacts the message, and Bob
sees the redaction. Prints a JSON summary for the caller to check the server's records.
"""

import asyncio
import json
import sys

from nio import (
    AsyncClient,
    DownloadError,
    InviteMemberEvent,
    JoinResponse,
    LoginResponse,
    ProfileSetAvatarResponse,
    RedactionEvent,
    RoomCreateResponse,
    RoomMessageImage,
    RoomRedactResponse,
    RoomSendResponse,
    UploadResponse,
)
from nio.api import Api

TIMEOUT = 20


def check(response, kind):
    if not isinstance(response, kind):
        raise SystemExit(f"expected {kind.__name__}, got {response!r}")
    return response


async def wait_for(event: asyncio.Event, what: str):
    try:
        await asyncio.wait_for(event.wait(), TIMEOUT)
    except asyncio.TimeoutError:
        raise SystemExit(f"timed out waiting for {what}")


async def main(base, alice_id, alice_pw, bob_id, bob_pw, image_path, thumb_path):
    image = open(image_path, "rb").read()
    thumb = open(thumb_path, "rb").read()
    alice = AsyncClient(base, alice_id)
    bob = AsyncClient(base, bob_id)
    check(await alice.login(alice_pw), LoginResponse)
    check(await bob.login(bob_pw), LoginResponse)

    invited, got_image, got_redaction = asyncio.Event(), asyncio.Event(), asyncio.Event()
    received = {}

    async def on_invite(room, event):
        if event.state_key == bob.user_id and event.membership == "invite":
            check(await bob.join(room.room_id), JoinResponse)
            invited.set()

    async def on_image(room, event):
        received["image"] = event
        got_image.set()

    async def on_redaction(room, event):
        received["redaction"] = event
        got_redaction.set()

    bob.add_event_callback(on_invite, InviteMemberEvent)
    bob.add_event_callback(on_image, RoomMessageImage)
    bob.add_event_callback(on_redaction, RedactionEvent)
    bob_loop = asyncio.create_task(bob.sync_forever(timeout=2000, full_state=True))

    created = check(
        await alice.room_create(name="nio room", invite=[bob.user_id]), RoomCreateResponse
    )
    room_id = created.room_id
    await wait_for(invited, "the invite")

    up, _ = await alice.upload(
        lambda *_: image, content_type="image/png", filename="cat.png", filesize=len(image)
    )
    url = check(up, UploadResponse).content_uri
    up, _ = await alice.upload(
        lambda *_: thumb, content_type="image/png", filename="thumb.png", filesize=len(thumb)
    )
    thumbnail_url = check(up, UploadResponse).content_uri
    # Wait until Bob's join is visible to Alice's client, so the send is not refused.
    await alice.sync(timeout=0, full_state=True)
    content = {
        "msgtype": "m.image",
        "body": "cat.png",
        "url": url,
        "info": {
            "mimetype": "image/png",
            "size": len(image),
            "thumbnail_url": thumbnail_url,
            "thumbnail_info": {"mimetype": "image/png", "size": len(thumb)},
        },
    }
    sent = check(await alice.room_send(room_id, "m.room.message", content), RoomSendResponse)
    await wait_for(got_image, "the image through sync")
    event = received["image"]
    assert event.event_id == sent.event_id, (event.event_id, sent.event_id)
    info = event.source["content"]["info"]
    assert event.url == url and info["thumbnail_url"] == thumbnail_url, event.source

    # nio's download goes to the authenticated endpoint; check that before relying on it.
    _, path = Api.download("s", "m", access_token="t")
    assert path.startswith("/_matrix/client/v1/media/download/"), path
    server, media_id = url[len("mxc://") :].split("/", 1)
    downloaded = await bob.download(server_name=server, media_id=media_id)
    if isinstance(downloaded, DownloadError):
        raise SystemExit(f"download failed: {downloaded!r}")
    assert downloaded.body == image, "downloaded bytes differ"

    check(await alice.set_avatar(url), ProfileSetAvatarResponse)
    redacted = check(
        await alice.room_redact(room_id, sent.event_id, reason="test"), RoomRedactResponse
    )
    await wait_for(got_redaction, "the redaction through sync")
    assert received["redaction"].redacts == sent.event_id

    bob_loop.cancel()
    await alice.close()
    await bob.close()
    print(
        json.dumps(
            {
                "room_id": room_id,
                "event_id": sent.event_id,
                "redaction_id": redacted.event_id,
                "url": url,
                "thumbnail_url": thumbnail_url,
                "download_path": path.split("?")[0],
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:8]))
