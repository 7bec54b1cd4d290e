// JSON.parse keeps the last of two equal keys without a word, so a log line
// like {"part":"policy","part":"policy"} parses "fine". This scanner walks the
// text itself (strict RFC 8259 grammar) and reports every key that appears
// twice in one object, by path. Keys are compared decoded ("a" and "\u0061"
// are the same key). Throws on text that is not one JSON value.

export function duplicateKeys(text: string): string[] {
  let i = 0;
  const dups: string[] = [];
  const fail = (what: string): never => {
    throw new SyntaxError(`${what} at position ${i}`);
  };
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const expect = (c: string) => {
    ws();
    if (text[i] !== c) fail(`expected '${c}'`);
    i++;
  };
  const string = (): string => {
    ws();
    if (text[i] !== '"') fail('expected a string');
    const start = i++;
    while (i < text.length && text[i] !== '"') {
      if (text.charCodeAt(i) < 0x20) fail('control character in a string');
      i += text[i] === '\\' ? 2 : 1;
    }
    if (i >= text.length) fail('unterminated string');
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const value = (path: string): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const seen = new Set<string>();
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        const key = string();
        const at = `${path}.${key}`;
        if (seen.has(key)) dups.push(at);
        seen.add(key);
        expect(':');
        value(at);
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === '}') {
          i++;
          return;
        } else fail("expected ',' or '}'");
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (let n = 0; ; n++) {
        value(`${path}[${n}]`);
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === ']') {
          i++;
          return;
        } else fail("expected ',' or ']'");
      }
    }
    if (c === '"') {
      string();
      return;
    }
    const literal = /true|false|null|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
    literal.lastIndex = i;
    const m = literal.exec(text);
    if (!m) fail('expected a value');
    i += m![0].length;
  };
  value('$');
  ws();
  if (i !== text.length) fail('trailing text');
  return dups;
}
