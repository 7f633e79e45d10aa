// Appended to a rendered report by tests/report_html.rs and run by headless Chromium: says
// whether anything is wider than the window, wider than its box, clipped, or an SVG label
// cut at its drawing's edge, and whether the verdict box is there.
(function () {
  var viewport = document.documentElement.clientWidth;
  var page = document.documentElement.scrollWidth;
  var bad = [];
  var all = document.body.getElementsByTagName('*');
  for (var i = 0; i < all.length; i++) {
    var e = all[i];
    var name = e.tagName + '.' + e.className;
    if (e.getBoundingClientRect().right > viewport + 0.5) bad.push('beyond the window: ' + name);
    if (e.tagName !== 'svg' && e.clientWidth > 0 && e.scrollWidth > e.clientWidth + 1)
      bad.push('content wider than its box: ' + name + ' ' + e.scrollWidth + '>' + e.clientWidth);
  }
  var texts = document.getElementsByTagName('text');
  for (var j = 0; j < texts.length; j++) {
    var t = texts[j], box = t.getBBox(), w = t.ownerSVGElement.width.baseVal.value;
    if (box.x < -0.5 || box.x + box.width > w + 0.5) bad.push('label clipped: ' + t.textContent);
  }
  var out = document.createElement('pre');
  out.textContent = 'OVERFLOW-' + 'CHECK viewport=' + viewport + ' page=' + page +
    ' verdict=' + (document.querySelector('.verdict') ? 'yes' : 'no') +
    ' bad=' + JSON.stringify(bad.slice(0, 20)) + ' END';
  document.body.appendChild(out);
})();
