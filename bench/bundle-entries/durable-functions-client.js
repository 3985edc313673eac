// Reference only: the durable-functions client. It runs inside the Azure Functions Node host, not in a page.
import * as df from 'durable-functions';
import { hello } from './shared.js';

document.body.append(String(df.getClient), Object.keys(hello.orchestrators).join());
