# A Python child for python-parent.mjs: the Node parent spawn()s it over its stdio. Each side
# exposes procedures to the other and calls them; a channel's Sender moves from Node to Python.
import asyncio, os, sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import ipfi  # noqa: E402  (from this checkout; or `pip install ./python`)


async def main() -> None:
    ends = await ipfi.stdio_link()                     # the two ends the parent made for us
    node = ipfi.remote(await ends.receiver.recv())     # the parent's procedures

    async def words(text):                             # a result stream, paced by credits
        for w in text.split():
            yield w

    async def ticks(tx, n):                            # tx: a Sender that moved here from Node
        for i in range(n):
            tx.send(f"tick {i}")
        tx.close()

    async def progress(steps, on_progress):            # on_progress: a Node function, called back
        for i in range(1, steps + 1):
            await on_progress(i / steps)
        return "done"

    ends.sender.send(ipfi.expose({
        "shout": lambda text: text.upper(),
        "words": words,
        "ticks": ticks,
        "progress": progress,
        "greet_back": lambda name: node.greet(name),    # calls the parent's procedure
    }))
    async for _ in ends.receiver:                      # until the parent closes its sender
        pass

asyncio.run(main())
