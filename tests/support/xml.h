#pragma once
// A well-formedness checker for the XML that io::Plot writes (balanced tags, quoted attributes,
// escaped text), and helpers that find elements by name and class, for tests that parse SVG files.
#include <cctype>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace ember::testing {

struct Element {
  std::string name;
  std::map<std::string, std::string> attrs;
  std::string text;  // unescaped character data directly inside the element
  int parent = -1;
};

// Replaces the five predefined entities; anything else after '&' is malformed.
inline std::string unescape(const std::string& raw) {
  static const std::map<std::string, char> entities = {
      {"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}};
  std::string out;
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '<') throw std::runtime_error("raw '<' in text or attribute");
    if (raw[i] != '&') {
      out += raw[i];
      continue;
    }
    const size_t end = raw.find(';', i);
    if (end == std::string::npos) throw std::runtime_error("unterminated entity");
    auto it = entities.find(raw.substr(i + 1, end - i - 1));
    if (it == entities.end())
      throw std::runtime_error("unknown entity " + raw.substr(i, end - i + 1));
    out += it->second;
    i = end;
  }
  return out;
}

inline bool is_name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == ':' || c == '_';
}

// A well-formedness checker for the subset of XML that SVG files use: an optional <?xml ...?>
// prolog, then one root element. Throws std::runtime_error naming the first problem.
inline std::vector<Element> parse_xml(const std::string& doc) {
  std::vector<Element> elements;
  std::vector<int> open;
  size_t i = 0;
  if (doc.rfind("<?xml", 0) == 0) {
    i = doc.find("?>");
    if (i == std::string::npos) throw std::runtime_error("unterminated prolog");
    i += 2;
  }
  bool root_closed = false;
  while (i < doc.size()) {
    if (doc[i] != '<') {
      const size_t next = doc.find('<', i);
      const std::string raw =
          doc.substr(i, next == std::string::npos ? std::string::npos : next - i);
      const std::string text = unescape(raw);
      if (open.empty()) {
        if (text.find_first_not_of(" \n\r\t") != std::string::npos)
          throw std::runtime_error("text outside the root");
      } else {
        elements[static_cast<size_t>(open.back())].text += text;
      }
      if (next == std::string::npos) break;
      i = next;
      continue;
    }
    if (doc.compare(i, 2, "</") == 0) {
      size_t j = i + 2;
      while (j < doc.size() && is_name_char(doc[j])) ++j;
      const std::string name = doc.substr(i + 2, j - i - 2);
      if (j >= doc.size() || doc[j] != '>') throw std::runtime_error("bad closing tag " + name);
      if (open.empty() || elements[static_cast<size_t>(open.back())].name != name)
        throw std::runtime_error("closing tag </" + name + "> does not match");
      open.pop_back();
      if (open.empty()) root_closed = true;
      i = j + 1;
      continue;
    }
    if (root_closed) throw std::runtime_error("a second root element");
    Element e;
    size_t j = i + 1;
    while (j < doc.size() && is_name_char(doc[j])) ++j;
    e.name = doc.substr(i + 1, j - i - 1);
    if (e.name.empty()) throw std::runtime_error("empty tag name");
    e.parent = open.empty() ? -1 : open.back();
    bool self_closing = false;
    while (true) {
      while (j < doc.size() && std::isspace(static_cast<unsigned char>(doc[j]))) ++j;
      if (j >= doc.size()) throw std::runtime_error("unterminated tag " + e.name);
      if (doc[j] == '>') {
        ++j;
        break;
      }
      if (doc.compare(j, 2, "/>") == 0) {
        self_closing = true;
        j += 2;
        break;
      }
      const size_t name_start = j;
      while (j < doc.size() && is_name_char(doc[j])) ++j;
      const std::string attr = doc.substr(name_start, j - name_start);
      if (attr.empty() || j + 1 >= doc.size() || doc[j] != '=' || doc[j + 1] != '"')
        throw std::runtime_error("unquoted or malformed attribute in <" + e.name + ">");
      const size_t value_end = doc.find('"', j + 2);
      if (value_end == std::string::npos) throw std::runtime_error("unterminated attribute value");
      if (e.attrs.count(attr)) throw std::runtime_error("duplicate attribute " + attr);
      e.attrs[attr] = unescape(doc.substr(j + 2, value_end - j - 2));
      j = value_end + 1;
    }
    elements.push_back(std::move(e));
    if (!self_closing)
      open.push_back(static_cast<int>(elements.size()) - 1);
    else if (open.empty())
      root_closed = true;
    i = j;
  }
  if (!open.empty())
    throw std::runtime_error("unclosed <" + elements[static_cast<size_t>(open.back())].name + ">");
  if (elements.empty() || !root_closed) throw std::runtime_error("no root element");
  return elements;
}

inline bool has_class(const Element& e, const std::string& cls) {
  auto it = e.attrs.find("class");
  if (it == e.attrs.end()) return false;
  std::istringstream words(it->second);
  for (std::string w; words >> w;)
    if (w == cls) return true;
  return false;
}

inline std::vector<const Element*> find(const std::vector<Element>& doc, const std::string& name,
                                        const std::string& cls = "") {
  std::vector<const Element*> out;
  for (const Element& e : doc)
    if (e.name == name && (cls.empty() || has_class(e, cls))) out.push_back(&e);
  return out;
}

// The labels of the tick group with class `group` ("x-ticks" or "y-ticks"), in document order.
inline std::vector<std::string> tick_labels(const std::vector<Element>& doc,
                                            const std::string& group) {
  std::vector<std::string> out;
  for (const Element& e : doc)
    if (e.name == "text" && has_class(e, "tick-label") && e.parent >= 0 &&
        has_class(doc[static_cast<size_t>(e.parent)], group))
      out.push_back(e.text);
  return out;
}

inline std::vector<std::pair<double, double>> numbers_in_pairs(std::string s) {
  for (char& c : s)
    if (c == ',' || c == 'M' || c == 'L') c = ' ';
  std::istringstream in(s);
  std::vector<std::pair<double, double>> out;
  for (double x, y; in >> x >> y;) out.emplace_back(x, y);
  return out;
}

}  // namespace ember::testing
