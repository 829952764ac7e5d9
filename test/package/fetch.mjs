/* global process, console, fetch, AbortSignal, setTimeout */
// node fetch.mjs URL SECONDS: GETs URL, retrying every 0.5 s for up to SECONDS while the
// server is not listening yet; prints the status and the body, or the last error.
const [url, seconds] = process.argv.slice(2);
const deadline = Date.now() + Number(seconds) * 1000;
for (;;) {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
    console.log(`status ${response.status}`);
    console.log(await response.text());
    break;
  } catch (error) {
    if (Date.now() > deadline) {
      console.log(`error ${error.cause?.code ?? error.message}`);
      process.exitCode = 1;
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
