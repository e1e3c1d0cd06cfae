import asyncio

from playwright.async_api import async_playwright


async def main():
    async with async_playwright() as p:
        b = await p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=[
                "--no-sandbox",
                "--host-resolver-rules=MAP xn--strae-oqa.test 127.0.0.1, MAP strasse.test 127.0.0.1",
            ],
        )
        pg = await b.new_page()
        r = await pg.goto("http://straße.test:18441/login")
        print(pg.url, r.status, (await pg.inner_text("body"))[:200])
        await b.close()


asyncio.run(main())
