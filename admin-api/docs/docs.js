// 接口文档: renders the OpenAPI documents of the admin API and of the edge,
// grouped by tag, each operation with its access, request and every answer's schema.
const SOURCES = { admin: '/admin/openapi.json', edge: '/admin/docs/edge-openapi.json' };
const TAGS = {
  accounts: '账号与登录', codes: '赋码', rules: '规则', 'risk areas': '风险区域', venues: '场所码', audit: '审计日志',
  citizen: '市民', scanner: '扫码核验', export: '导出', overview: '首页', other: '其他',
};
const el = (tag, attrs, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const k of kids) e.append(k);
  return e;
};
function resolve(doc, s) {
  if (s && s.$ref) return doc.components.schemas[s.$ref.split('/').pop()];
  return s;
}
function schemaBlock(title, schema) {
  const d = el('details', {}, el('summary', {}, title));
  d.append(el('pre', {}, JSON.stringify(schema, null, 2)));
  return d;
}
async function show(which) {
  for (const a of document.querySelectorAll('nav a')) a.className = a.dataset.doc === which ? 'on' : '';
  const main = document.getElementById('doc');
  main.replaceChildren(el('p', {}, '加载中…'));
  const doc = await (await fetch(SOURCES[which])).json();
  const groups = new Map();
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const tag = (op.tags && op.tags[0]) || 'other';
      if (!groups.has(tag)) groups.set(tag, []);
      groups.get(tag).push({ path, method: method.toUpperCase(), op });
    }
  }
  main.replaceChildren(el('p', { class: 'desc' }, doc.info.title + '：' + (doc.info.description || '')));
  for (const [tag, list] of groups) {
    main.append(el('h2', {}, TAGS[tag] || tag));
    for (const { path, method, op } of list) {
      const box = el('div', { class: 'op', id: method + path },
        el('div', {}, el('span', { class: 'm ' + method }, method), el('span', { class: 'path' }, path)),
        el('div', { class: 'sum' }, op.summary || ''),
      );
      if (op.description) box.append(el('div', { class: 'desc' }, op.description));
      const body = op.requestBody && op.requestBody.content && op.requestBody.content['application/json'];
      if (body) box.append(schemaBlock('请求体', resolve(doc, body.schema)));
      if (op.parameters && op.parameters.length) box.append(schemaBlock('参数', op.parameters));
      for (const [code, r] of Object.entries(op.responses || {})) {
        const c = r.content && Object.values(r.content)[0];
        const label = '应答 ' + code + (r.description && r.description !== 'Default Response' ? '：' + r.description : '');
        box.append(c && c.schema ? schemaBlock(label, resolve(doc, c.schema)) : el('div', { class: 'code' }, label));
      }
      main.append(box);
    }
  }
}
const pick = () => show(location.hash === '#edge' ? 'edge' : 'admin');
addEventListener('hashchange', pick);
pick();
