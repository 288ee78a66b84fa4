"""The report page (results/report/index.html): the workflow's tables and figures, and its loops
to listen to, side by side. One idea per file:

    page.py     build_page: the folder, the sections in order
    data.py     section Data (files in, phrases, loops, rejects, detector figures)
    symbolic.py section Symbolic generation (tables 1-3, Figure 4, the listening grid)
    loopnet.py  section LoopNet (tables, test-loop grid, timbre transfer, symbolic -> audio)
    html.py     HTML pieces with stable ids and data- attributes
    media.py    pianoroll and spectrogram PNGs, WAV files
    browser.py  opening the page in headless Chromium and checking it as a user would
"""
