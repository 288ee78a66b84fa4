"""Rule report_page: results/report/index.html with its img/ and audio/ folders; with chromium at
hand, a headless-browser check of the page and its full-page screenshot.png."""

from loopgen.logs import log_to

log = log_to(snakemake.log[0])

from pathlib import Path

from loopgen.report import browser
from loopgen.report.page import PageSettings, build_page

out = Path(snakemake.output.folder)
index = build_page(snakemake.params.results, out, PageSettings(**snakemake.params.settings))
log.info(
    "%s written (%d images, %d sounds)",
    index,
    len(list((out / "img").iterdir())),
    len(list((out / "audio").glob("*.wav"))),
)

if not snakemake.params.screenshot:
    log.info("screenshot: off (report.screenshot)")
elif reason := browser.unavailable():
    log.info("screenshot skipped: %s", reason)
else:
    try:
        check = browser.check_page(out, out / "screenshot.png")
    except Exception as error:  # noqa: BLE001 - the page is complete without its screenshot: say why, do not fail the run
        log.warning("screenshot failed: %s: %s", type(error).__name__, str(error).splitlines()[0])
    else:
        log.info(
            "checked in headless Chromium: %d images, %d players, %d tables; screenshot %s",
            len(check.images),
            len(check.audios),
            len(check.tables),
            out / "screenshot.png",
        )
        for problem in check.problems:
            log.warning("page problem: %s", problem)
