// The app every other entry is compared with: the same page code, no durable-rx.
import { hello } from './shared.js';

document.body.append(Object.keys(hello.orchestrators).join());
