"""The current SDK as Cloudflare documents it: a SQLite-backed Durable Object called over RPC from
the Default entrypoint, the importable env, patch_env, and the SDK request's own names."""

from workers import DurableObject, Response, WorkerEntrypoint, env, patch_env, python_from_rpc


def signature():
    """Library code that reads the importable env rather than taking it as an argument."""
    return f"{env.SITE_NAME} ({env.REGION})"


class Guestbook(DurableObject):
    def __init__(self, ctx, env):
        super().__init__(ctx, env)
        self.ctx.storage.sql.exec(
            "CREATE TABLE IF NOT EXISTS entries (id INTEGER PRIMARY KEY, author TEXT, note TEXT)"
        )

    async def sign(self, author, note):
        self.ctx.storage.sql.exec("INSERT INTO entries (author, note) VALUES (?, ?)", author, note)
        count = self.ctx.storage.sql.exec("SELECT count(*) AS n FROM entries").one().n
        return {"book": self.ctx.id.name, "entries": count, "by": signature()}

    async def entries(self):
        rows = self.ctx.storage.sql.exec("SELECT author, note FROM entries ORDER BY id").toArray()
        return [[row["author"], row["note"]] for row in rows]


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        path = request.url.split("/", 3)[3].split("?")[0]
        book = self.env.GUESTBOOK.getByName("lobby")
        if path == "sign" and request.method == "POST":
            form = await request.json()
            result = python_from_rpc(await book.sign(form["author"], form["note"]))
            await self.env.SIGNED.send({"author": form["author"], "entries": result["entries"]})
            return Response.json(result, status=201)
        if path == "entries":
            return Response.json(await book.entries())
        if path == "patched":
            with patch_env(SITE_NAME="patched site", REGION="nowhere"):
                inside = signature()
            return Response.json({"inside": inside, "after": signature()})
        if path == "cf":
            cf = request.cf
            fields = ("country", "colo", "tlsVersion", "httpProtocol", "asn")
            return Response.json({name: cf[name] for name in fields} | {"city": cf.city})
        if path == "raw":
            data = await request.buffer()
            same = request.js_object.url == request.url
            return Response(data, headers={"x-method": str(request.method), "x-js-same-url": str(same)})
        return Response("not found", status=404)

    async def queue(self, batch, env, ctx):
        for message in batch.messages:
            body = message.body  # a dict with attribute access, as the platform hands it over
            print(f"signed by {body.author} ({body['entries']} so far): {body.to_py()}")
